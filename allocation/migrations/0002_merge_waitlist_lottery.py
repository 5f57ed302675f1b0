# The waitlist and the lottery were built side by side, each from the empty app.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("allocation", "0001_lottery"),
        ("allocation", "0001_waitlist"),
    ]

    operations = []
