"""Logging that keeps personal data and secrets out of log lines.

Query strings can carry whatever a browser or a bot sent; some paths carry secrets (a manage link's
token works like a password); an e-mail address, a phone or a document number can slip into an
exception message or a provider's answer. They are replaced before any handler writes the record:
Django's handlers and gunicorn's (gunicorn.conf.py) use the same filter and formatter.
"""

import logging
import re

_QUERY_STRING = re.compile(r"(?P<path>/[^\s\"'?]*)\?[^\s\"']*")
# Every URL pattern whose path carries a secret: the SMS's short manage link (/m/<token>/), the
# signed manage link (/<language>/manage/link/<token>/) and the calling screen's key
# (/screen/<key>/) and a waitlist place's link (/<language>/waitlist/place/<token>/).
# tests/core/test_logging.py walks the URL patterns and fails on a new one that
# takes a word from the path without being listed here or named harmless there.
TOKEN_PATH_PREFIXES = ("/m/", "/manage/link/", "/screen/", "/waitlist/place/", "/lottery-offer/")
_PATH_SECRET = re.compile("(?P<prefix>" + "|".join(map(re.escape, TOKEN_PATH_PREFIXES)) + r")[^/\s\"'?]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Phone and document numbers, in the shapes people and providers write them. Each pattern is
# bounded so that times, dates, durations, status codes, byte counts, ids in brackets and UUIDs
# stay readable (tests/core/test_logging.py lists both kinds).
_NUMBERS = [
    # International phone numbers: "+" and at least 7 more digits, with spaces, dashes, dots or
    # brackets between them (+502 5512-3456, +57 (300) 123 4567).
    re.compile(r"\+\d(?:[ .()-]{0,2}\d){6,}"),
    # Document numbers with a letter prefix: P123456789, AB-1234567, V12345678, X1234567L.
    re.compile(r"(?<![\w-])[A-Za-z]{1,3}-?\d{5,}[A-Za-z]?(?![\w-])"),
    # National numbers written in groups: 5512 3456 and 5512-3456 (Central America), 300 123 4567
    # and (02) 234 5678 (Colombia, Ecuador), 1234 56789 0101 (Guatemala's DPI), 12.345.678
    # (a cédula with thousands dots).
    re.compile(r"(?<![\w-])(?:\(?\d{2,4}\)?[ .-]\d{3,5}[ .-]\d{4}|\d{4}[ -]\d{4}|\d{1,3}(?:\.\d{3}){2,})(?![\w-])"),
]
# A run of 7 or more digits is a phone or a document number written without spaces, unless what is
# around it says it is a plain number (_is_plain_number): named by a key of SAFE_KEYS or with one
# of SAFE_KEY_SUFFIXES (duration_ms=1234567, "total": 12345678, offset 12345678), or followed by a
# unit (1234567 ms, 12345678 rows). Not a decimal part either (0.012345678s), nor the first group
# of a UUID (a task id) that happens to be all digits.
_DIGIT_RUN = re.compile(r"(?<![\w.])\d{7,}(?!\w|\.\d|-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-)")
SAFE_KEYS = frozenset(
    {
        "bytes", "size", "length", "content_length", "memory", "max_memory", "rss",
        "duration", "elapsed", "took", "ms", "us", "timeout", "seconds",
        "rows", "count", "total", "records", "items", "offset", "limit", "page",
        "pid", "process", "thread", "port",
        "timestamp", "ts", "epoch", "time",
        "pk", "appointment", "slot", "office", "notification", "screening", "run", "draw", "batch",
    }
)  # fmt: skip
SAFE_KEY_SUFFIXES = ("_ms", "_us", "_ns", "_seconds", "_bytes", "_count", "_total", "_rows", "_size", "_at", "_ts")
# The key just before a number: key=, key:, "key": or key followed by a space.
_KEY_BEFORE = re.compile(r"""(?:^|[^\w])["']?(?P<key>[A-Za-z_][\w]*)["']?(?:\s*[=:]\s*["']?|\s+)$""")
_UNIT_AFTER = re.compile(
    r"\s?(?:ms|us|µs|ns|s|secs?|seconds|bytes|B|KB|KiB|MB|MiB|rows|records|items|messages|requests|queries)\b"
)


def _is_plain_number(text: str, start: int, end: int) -> bool:
    before = _KEY_BEFORE.search(text, max(0, start - 40), start)
    if before:
        key = before.group("key").lower()
        if key in SAFE_KEYS or key.endswith(SAFE_KEY_SUFFIXES):
            return True
    return bool(_UNIT_AFTER.match(text, end))


def _redact_digit_run(match: re.Match[str]) -> str:
    return match.group() if _is_plain_number(match.string, match.start(), match.end()) else "[number]"


def redact(text: str) -> str:
    """Return `text` with query strings, secrets in paths, e-mail addresses, phone and document
    numbers replaced."""
    text = _QUERY_STRING.sub(r"\g<path>?[redacted]", text)
    text = _PATH_SECRET.sub(r"\g<prefix>[redacted]", text)
    text = _EMAIL.sub("[email]", text)
    for pattern in _NUMBERS:
        text = pattern.sub("[number]", text)
    return _DIGIT_RUN.sub(_redact_digit_run, text)


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Also redacts tracebacks and stack dumps, which the filter above never sees."""

    def formatException(self, ei: object) -> str:
        return redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info))
