"""`translations update` extracts and compiles the catalogues; `translations check` fails when they
are out of date, incomplete, or not compiled. Both share one set of extraction options."""

import gettext
import shutil
import subprocess
import tempfile
from contextlib import chdir
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

LOCALES = ["es", "ht"]
MAKEMESSAGES_OPTIONS = {
    "locale": LOCALES,
    "domain": "django",
    "no_location": True,
    "no_obsolete": True,
    # "locale" too: makemessages would otherwise put every string found under the project root
    # into ./locale, whatever LOCALE_PATHS says, and the check needs them in its own copy.
    "ignore_patterns": ["locale", "node_modules", "var", "tests", "bench", "scripts", "docs"],
    "verbosity": 0,
}


def _po_body(path: Path) -> list[str]:
    # The creation date changes on every extraction; everything else must be identical.
    return [line for line in path.read_text(encoding="utf-8").splitlines() if "POT-Creation-Date" not in line]


def _mo_catalog(path: Path) -> dict:
    with path.open("rb") as fp:
        return dict(gettext.GNUTranslations(fp)._catalog)  # noqa: SLF001 - the parsed messages


class Command(BaseCommand):
    help = "Update (extract and compile) or check the translation catalogues in locale/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["update", "check"])

    def handle(self, *args: object, action: str, **options: object) -> None:
        locale_dir = Path(settings.LOCALE_PATHS[0])
        if action == "update":
            self._extract(locale_dir)
            call_command("compilemessages", locale=LOCALES, verbosity=0)
            self.stdout.write(self.style.SUCCESS(f"Catalogues in {locale_dir} extracted and compiled."))
            return
        problems = self._check(locale_dir)
        if problems:
            raise CommandError("\n".join([*problems, "Run `make messages`, translate, and commit locale/."]))
        self.stdout.write(self.style.SUCCESS("Translations are complete and up to date."))

    def _extract(self, locale_dir: Path) -> None:
        # makemessages walks the current directory: run it from the project root.
        with override_settings(LOCALE_PATHS=[locale_dir]), chdir(settings.BASE_DIR):
            call_command("makemessages", **MAKEMESSAGES_OPTIONS)

    def _check(self, locale_dir: Path) -> list[str]:
        problems = []
        # makemessages files each source under the first locale path whose parent directory
        # contains it, so the fresh copy must sit directly in the project root.
        with tempfile.TemporaryDirectory(dir=settings.BASE_DIR, prefix=".translations-check-") as tmp:
            fresh_dir = Path(tmp)
            shutil.copytree(locale_dir, fresh_dir, dirs_exist_ok=True)
            self._extract(fresh_dir)
            for locale in LOCALES:
                committed_po = locale_dir / locale / "LC_MESSAGES" / "django.po"
                fresh_po = fresh_dir / locale / "LC_MESSAGES" / "django.po"
                if _po_body(committed_po) != _po_body(fresh_po):
                    problems.append(f"{committed_po}: out of date with the source strings.")
                stats = subprocess.run(
                    ["msgfmt", "--check-format", "--statistics", "-o", str(fresh_dir / "fresh.mo"), str(committed_po)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if stats.returncode != 0 or "untranslated" in stats.stderr or "fuzzy" in stats.stderr:
                    problems.append(f"{committed_po}: incomplete: {stats.stderr.strip()}")
                committed_mo = committed_po.with_suffix(".mo")
                if not committed_mo.exists():
                    problems.append(f"{committed_mo}: missing.")
                elif stats.returncode == 0 and _mo_catalog(committed_mo) != _mo_catalog(fresh_dir / "fresh.mo"):
                    problems.append(f"{committed_mo}: not compiled from the current {committed_po.name}.")
        return problems
