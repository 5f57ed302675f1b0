"""Log lines never carry query strings or e-mail addresses."""

import logging

import pytest

from core.logging import RedactPersonalData, redact


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            '"GET /es/manage/?ref=ABC123&dob=1990-01-02 HTTP/1.1" 200 512',
            '"GET /es/manage/?[redacted] HTTP/1.1" 200 512',
        ),
        ("Not Found: /es/nothing/", "Not Found: /es/nothing/"),
        ("send failed for maria.lopez+test@example.com: 550", "send failed for [email]: 550"),
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_filter_rewrites_formatted_records() -> None:
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s', ("GET /x?phone=5555 HTTP/1.1", 200), None
    )
    assert RedactPersonalData().filter(record) is True
    assert record.getMessage() == '"GET /x?[redacted] HTTP/1.1" 200'


def test_project_logging_uses_the_filter() -> None:
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.filters)
    assert any(isinstance(f, RedactPersonalData) for f in handler.filters)
