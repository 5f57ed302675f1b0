import datetime

from django.db import migrations, models


def days_to_hours(apps, schema_editor):
    """The counts kept per UTC day become counts of that day's noon (UTC): noon of day D is still
    day D in every office's time zone from UTC-12 to UTC+11, so the past keeps its days."""
    ScreenerStart = apps.get_model("eligibility", "ScreenerStart")
    for start in ScreenerStart.objects.all():
        start.hour = datetime.datetime.combine(start.day, datetime.time(12), tzinfo=datetime.UTC)
        start.save(update_fields=["hour"])


def hours_to_days(apps, schema_editor):
    """Back to one row per UTC day and country, the hours' counts added up."""
    ScreenerStart = apps.get_model("eligibility", "ScreenerStart")
    totals = {}
    for start in ScreenerStart.objects.all():
        key = (start.hour.astimezone(datetime.UTC).date(), start.host_country)
        totals[key] = totals.get(key, 0) + start.started
    ScreenerStart.objects.all().delete()
    ScreenerStart.objects.bulk_create(
        ScreenerStart(day=day, hour=None, host_country=country, started=n) for (day, country), n in totals.items()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('eligibility', '0006_retention'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='screenerstart', name='eligibility_start_once'),
        migrations.AddField(
            model_name='screenerstart', name='hour', field=models.DateTimeField(null=True, verbose_name='hour')
        ),
        migrations.AlterField(model_name='screenerstart', name='day', field=models.DateField(null=True, verbose_name='day')),
        migrations.RunPython(days_to_hours, hours_to_days),
        migrations.RemoveField(model_name='screenerstart', name='day'),
        migrations.AlterField(model_name='screenerstart', name='hour', field=models.DateTimeField(verbose_name='hour')),
        migrations.AddConstraint(
            model_name='screenerstart',
            constraint=models.UniqueConstraint(fields=('hour', 'host_country'), name='eligibility_start_once'),
        ),
    ]
