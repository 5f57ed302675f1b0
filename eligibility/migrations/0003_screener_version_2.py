from django.db import migrations


def upgrade(apps, schema_editor):
    from eligibility import seed as program

    program.upgrade(apps)


class Migration(migrations.Migration):
    """The I-130 question split in two, and reasons that name each country's rule, published as a
    new version over the seeded 2023 rules (screenings keep the version they were made with)."""

    dependencies = [("eligibility", "0002_seed_2023_program")]

    operations = [migrations.RunPython(upgrade, migrations.RunPython.noop)]
