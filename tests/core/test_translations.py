"""The Spanish catalogue is complete, current and compiled; the check notices when it is not."""

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from core.management.commands.translations import Command

LOCALE = Path(settings.BASE_DIR) / "locale"
PO = Path("es") / "LC_MESSAGES" / "django.po"


@pytest.fixture
def locale_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    return copy


def test_committed_catalogue_passes() -> None:
    assert Command()._check(LOCALE) == []


def test_untranslated_string_is_reported(locale_copy: Path) -> None:
    po = locale_copy / PO
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "Página no encontrada"' in text
    po.write_text(text.replace('msgstr "Página no encontrada"', 'msgstr ""'), encoding="utf-8")
    problems = Command()._check(locale_copy)
    assert any("incomplete" in problem for problem in problems), problems


def test_stale_catalogue_and_mo_are_reported(locale_copy: Path) -> None:
    po = locale_copy / PO
    po.write_text(
        po.read_text(encoding="utf-8") + '\nmsgid "A string no template uses"\nmsgstr "Una cadena sin uso"\n',
        encoding="utf-8",
    )
    problems = Command()._check(locale_copy)
    assert any("out of date" in problem for problem in problems), problems
    assert any("not compiled" in problem for problem in problems), problems
