"""Log lines never carry query strings, tokens in paths, e-mail addresses, phone or document numbers,
and keep what is ordinary in a log line (durations, status codes, dates, ids)."""

import logging
import sys

import pytest
from django.conf import settings

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
        # Document numbers as people and providers write them (issue 12).
        ("no appointment for P123456789", "no appointment for [number]"),
        ("document AB-1234567 refused", "document [number] refused"),
        ("cédula V12345678, NIE X1234567L.", "cédula [number], NIE [number]."),
        ("lowercase p123456789", "lowercase [number]"),
        ("DPI 1234 56789 0101", "DPI [number]"),
        ("cédula 12.345.678 or 1.234.567.890", "cédula [number] or [number]"),
        ("a run of seven 1234567", "a run of seven [number]"),
        # National phone numbers.
        ("destination 5512 3456 unreachable", "destination [number] unreachable"),
        ("call 5512-3456.", "call [number]."),
        ("+502 5512-3456 refused", "[number] refused"),
        ("mobile 300 123 4567 or (02) 234 5678 or 099-123-4567", "mobile [number] or [number] or [number]"),
        ('{"to": "+57 (300) 123-4567"}', '{"to": "[number]"}'),
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean


@pytest.mark.parametrize(
    "ordinary",
    [
        '[01/Dec/2026:10:00:00 +0000] method=GET path="/es/" status=200 bytes=12345678 duration_us=98765432',
        '"GET /es/book/office/oficina-1/2026-12-02/ HTTP/1.1" 302 0',
        '"GET /admin/report/ HTTP/1.1" 200 15234',
        "2026-12-01 10:00:00,123 level=INFO logger=x process=12345 msg=ok",
        "Task notifications.tasks.send_notification[e1234567-1234-5678-9abc-def012345678] succeeded in 0.012345678s",
        "closure run skipped run=12 appointment=3456 code=full",
        "slot generation postponed office=7 reason=busy",
        "connect 127.0.0.1:54321 timeout=2.5",
        "Python 3.11.7, Django 5.2.19, HTTP/1.1",
        "export 0b7c2f2e-5c1a-4d7e-9a63-0c8e3e0a1b2c rows=20000 of 150000",
        # A UUID whose first group happens to be digits only (one in about 23 Celery task ids).
        "Task notifications.tasks.send_notifications[12345678-47a2-48f5-ba13-a0e459557323] received",
        "healthz check=cache state=down error=TimeoutError",
    ],
)
def test_ordinary_log_content_is_kept(ordinary: str) -> None:
    """Durations, status codes, byte counts, dates, times, ids, UUIDs and versions stay readable."""
    assert redact(ordinary) == ordinary


@pytest.mark.parametrize(
    "ordinary",
    [
        # Plain numbers named by their key (key=value, key: value, "key": value) or by their unit.
        "query took duration_ms=1234567",
        "closure run rows=1234567 updated",
        "retention run count=2500000 erased",
        "beat timestamp=1764576000 next_at=1764579600",
        '{"event": "export", "total": 12345678, "elapsed_ms": 9876543}',
        "worker pid=1234567 started",
        "export size: 10485760 bytes",
        "outbox sent 1234567 messages",
        "retry in 1200000 us",
        "task took 1234567 ms",
        "processed 12345678 rows in 3.2s",
        "scan offset 12345678 limit 1000",
        "cache max_memory=1073741824",
        "draw created_at=1764576000",
    ],
)
def test_plain_numbers_in_known_safe_contexts_are_kept(ordinary: str) -> None:
    assert redact(ordinary) == ordinary


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # What is personal stays redacted whatever the words around it.
        ("phone=3001234567 refused", "phone=[number] refused"),
        ('{"to": "50255123456", "status": "failed"}', '{"to": "[number]", "status": "failed"}'),
        ("national_id=1234567890", "national_id=[number]"),
        ("document 123456789 not found", "document [number] not found"),
        ("tel: 88881234", "tel: [number]"),
        ("rows=+50255123456", "rows=[number]"),  # an E.164 number is a phone wherever it is
        ("count=5512 3456", "count=[number]"),  # so is a number written in a phone's groups
        ("bytes=P123456789", "bytes=[number]"),  # and a document-like string
        ("call 3001234567 now", "call [number] now"),
    ],
)
def test_personal_numbers_are_redacted_in_any_context(raw: str, clean: str) -> None:
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


# Parameters of URL patterns that are no secret: which office, which question, which day. Any other
# word a public URL takes from its path must be a secret the redaction removes (below).
HARMLESS_PARAMETERS = {
    "appointments:choose-day": "the office's public slug",
    "appointments:choose-slot": "the office's public slug and a day",
    "eligibility:question": "the question's key, the same for everyone",
    "allocation:waitlist-join": "the office's public slug",
    "allocation:waitlist-details": "the office's public slug",
    "allocation:waitlist-code": "the office's public slug",
    "allocation:lottery": "the office's public slug",
    "allocation:lottery-people": "the office's public slug",
    "allocation:lottery-request": "the office's public slug",
    "allocation:lottery-code": "the office's public slug",
    "allocation:lottery-requested": "the office's public slug",
    "allocation:lottery-numbers": "the office's public slug and the draw's id",
}
SAFE_CONVERTERS = {"IntConverter", "UUIDConverter", "IsoDate"}


def _routes(resolver=None, prefix: str = "", namespace: str = ""):
    """Every URL pattern of the project: its route, its name and the kinds of its parameters."""
    from django.urls import URLResolver, get_resolver

    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
        else:
            converters = getattr(entry.pattern, "converters", {})
            kinds = {type(converter).__name__ for converter in converters.values()}
            if not converters and entry.pattern.regex.groupindex:
                kinds = {"regex"}
            yield route, f"{namespace}{entry.name}", kinds


def _token_paths() -> list[tuple[str, str]]:
    """Each token-bearing URL, in every language, with a made-up secret in it."""
    from django.urls import reverse
    from django.utils import translation

    secret = "SECRET7token-42-abcdefghijklmnop"
    paths = [("short-manage-link", reverse("short-manage-link", args=[secret]))]
    paths.append(("desk:screen", reverse("desk:screen", args=["SECRET7token_abcdefghijklmnop"])))
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            paths.append(("appointments:manage-link", reverse("appointments:manage-link", args=[secret])))
            paths.append(("allocation:waitlist-place", reverse("allocation:waitlist-place", args=[secret])))
            paths.append(("allocation:lottery-offer", reverse("allocation:lottery-offer", args=[secret])))
    return paths


def test_every_url_that_takes_a_word_from_its_path_is_harmless_or_redacted() -> None:
    """A new URL pattern that carries a token must be added to core.logging.TOKEN_PATH_PREFIXES."""
    from django.utils import translation

    token_routes = {name for name, _path in _token_paths()}
    with translation.override("es"):
        routes = list(_routes())
    unchecked = [
        (route, name)
        for route, name, kinds in routes
        if kinds - SAFE_CONVERTERS
        and not name.startswith("admin:")  # behind the sign-in: object ids, app labels
        and name not in HARMLESS_PARAMETERS
        and name not in token_routes
    ]
    assert not unchecked, "add these to TOKEN_PATH_PREFIXES or HARMLESS_PARAMETERS"
    assert token_routes <= {name for _route, name, _kinds in routes}
    assert token_routes == {
        "short-manage-link",
        "appointments:manage-link",
        "desk:screen",
        "allocation:waitlist-place",
        "allocation:lottery-offer",
    }


def test_every_token_path_is_redacted_in_both_access_logs(capsys: pytest.CaptureFixture[str]) -> None:
    """gunicorn's access log, as gunicorn itself writes it with gunicorn.conf.py (its format and
    its logging), and runserver's request line, for each token-bearing URL in every language."""
    import datetime
    import logging.config
    import runpy
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    conf = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))
    cfg = Config()
    for name in ("accesslog", "access_log_format", "logconfig_dict"):
        cfg.set(name, conf[name])
    try:
        gunicorn_logger = Logger(cfg)
        for _name, path in _token_paths():
            environ = {
                "REQUEST_METHOD": "GET",
                "RAW_URI": f"{path}?x=1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "PATH_INFO": path,
                "QUERY_STRING": "x=1",
            }
            response = SimpleNamespace(status="302 Found", sent=0, headers=[])
            gunicorn_logger.access(response, SimpleNamespace(headers=[]), environ, datetime.timedelta(microseconds=900))
        out = capsys.readouterr().out
    finally:
        logging.config.dictConfig(settings.LOGGING)
    assert out.count("status=302") == len(_token_paths())
    assert "SECRET7" not in out
    for _name, path in _token_paths():
        line = redact(f'"GET {path}?x=1 HTTP/1.1" 302 0')
        assert "SECRET7" not in line, line


def test_sql_and_template_contexts_are_never_logged_even_at_debug() -> None:
    """LOG_LEVEL=DEBUG turns on every logger but the two that write what people typed."""
    import os
    import subprocess
    import sys

    script = (
        "import django, logging; django.setup(); "
        "print([logging.getLogger(n).isEnabledFor(logging.DEBUG) for n in "
        "('django.db.backends', 'django.template', 'django.request', 'appointments')])"
    )
    env = {**os.environ, "LOG_LEVEL": "DEBUG", "DJANGO_SETTINGS_MODULE": "movilidad.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[False, False, True, True]"
