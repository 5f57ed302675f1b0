"""Every form renders through crispy with the project's one template pack (templates/movilidad/):
no template writes its own field, error message or error summary markup."""

from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template

TEMPLATES = Path(settings.BASE_DIR) / "templates"
PACK = TEMPLATES / "movilidad"
# Markup only the pack may write: the error summary, the error message and a field's hint.
OWN = ('class="error-summary"', 'class="error-message"', '-hint" class="form-text hint"')


def test_the_pack_is_the_one_crispy_uses() -> None:
    assert settings.CRISPY_TEMPLATE_PACK == "movilidad"
    for name in ("field.html", "errors.html", "field_messages.html"):
        assert get_template(f"movilidad/{name}")


@pytest.mark.parametrize("path", sorted(p for p in TEMPLATES.rglob("*.html") if PACK not in p.parents), ids=str)
def test_no_template_writes_its_own_field_or_error_markup(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not [mark for mark in OWN if mark in text], f"{path}: render it with |as_crispy_field or |as_crispy_errors"


def test_the_forms_of_the_journey_use_the_pack() -> None:
    for name in (
        "eligibility/question.html",
        "appointments/book/people.html",
        "appointments/book/details.html",
        "appointments/book/time.html",
        "appointments/manage/lookup.html",
        "desk/queue.html",
        "desk/walk_in.html",
    ):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert "as_crispy_errors" in text or "as_crispy_field" in text or "movilidad/field_messages.html" in text, name
