from django.core.management.base import BaseCommand, CommandError, CommandParser

from appointments.models import Office
from appointments.services.slots import GenerationResult, generate_slots


class Command(BaseCommand):
    help = "Create, update or remove future slots to match each office's opening hours, closures and horizon."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--office", metavar="SLUG", help="Only this office (default: every office).")

    def handle(self, *args: object, **options: object) -> None:
        offices = Office.objects.all()
        if options["office"]:
            offices = offices.filter(slug=options["office"])
            if not offices.exists():
                raise CommandError(f"No office with the slug {options['office']!r}.")
        for office in offices:
            result: GenerationResult = generate_slots(office=office)
            self.stdout.write(
                f"{office.slug}: {result.created} created, {result.updated} updated, {result.deleted} removed"
            )
