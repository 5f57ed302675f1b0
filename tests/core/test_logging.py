"""Log lines never carry query strings or e-mail addresses."""

import logging
import sys

import pytest

from core.logging import RedactingFormatter, RedactPersonalData, redact


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            '"GET /es/manage/?ref=ABC123&dob=1990-01-02 HTTP/1.1" 200 512',
            '"GET /es/manage/?[redacted] HTTP/1.1" 200 512',
        ),
        ("Not Found: /es/nothing/", "Not Found: /es/nothing/"),
        ("send failed for maria.lopez+test@example.com: 550", "send failed for [email]: 550"),
        ("provider refused +502 5555 1234 (code 21211)", "provider refused [number] (code 21211)"),
        ("document 123456789 not found", "document [number] not found"),
        ('"GET /es/ HTTP/1.1" 200 15234', '"GET /es/ HTTP/1.1" 200 15234'),
        ('path="/screen/OhR9DK0Je5mZalcWFIPmBIcO3Lz4x0NX/" status=200', 'path="/screen/[redacted]/" status=200'),
        ('path="/m/12-3-abcdefghijklmnop/" status=302', 'path="/m/[redacted]/" status=302'),
        ("GET /es/manage/link/12-3-abcdefghijklmnop/", "GET /es/manage/link/[redacted]/"),
        ("GET /es/manage/appointment/", "GET /es/manage/appointment/"),
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


def test_tracebacks_are_redacted_too() -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("duplicate key (email)=(maria@example.com) phone +50255551234")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = formatter.format(record)
    assert "ValueError" in text
    assert "maria@example.com" not in text
    assert "+50255551234" not in text


def test_gunicorn_access_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """gunicorn's loggers are configured by gunicorn.conf.py, not by Django's LOGGING."""
    import logging.config
    import runpy

    from django.conf import settings
    from gunicorn.glogging import CONFIG_DEFAULTS

    config = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))
    # As gunicorn applies it: its defaults, overlaid key by key.
    logging.config.dictConfig({**CONFIG_DEFAULTS, **config["logconfig_dict"]})
    try:
        line = config["access_log_format"] % {
            "t": "[30/Nov/2026:10:00:00 +0000]", "m": "GET", "U": "/screen/OhR9DK0Je5mZalcWFIPmBIcO3Lz4x0NX/",
            "s": 200, "B": 512, "D": 1200,
        }  # fmt: skip
        logging.getLogger("gunicorn.access").info(line)
        logging.getLogger("gunicorn.access").info('path="/m/12-3-abcdefghijklmnop/" status=302')
        out = capsys.readouterr().out
        assert 'path="/screen/[redacted]/"' in out
        assert 'path="/m/[redacted]/"' in out
        assert "OhR9DK0" not in out
        assert "abcdefghijklmnop" not in out
    finally:
        logging.config.dictConfig(settings.LOGGING)
