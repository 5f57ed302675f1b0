from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.services import DEMO_ACCOUNTS, load_demo_data


class Command(BaseCommand):
    help = "Load the local demo data and accounts (idempotent). Refuses to run unless DEBUG is on."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "The demo data includes accounts whose passwords are published in README.md; "
                "it is loaded only for local development (DEBUG=true)."
            )
        load_demo_data()
        names = ", ".join(account.username for account in DEMO_ACCOUNTS)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready (accounts: {names})."))
