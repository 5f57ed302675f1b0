from django.db import migrations


def seed(apps, schema_editor):
    from eligibility import seed as program

    program.load(apps)


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
