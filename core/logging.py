"""Logging that keeps personal data out of log lines.

Query strings can carry whatever a browser or a bot sent, and an e-mail address or a phone number
can slip into an exception message; they are replaced before any handler writes the record.
"""

import logging
import re

_QUERY_STRING = re.compile(r"(?P<path>/[^\s\"'?]*)\?[^\s\"']*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Secrets in paths: signed manage links (/m/<token>/, /manage/link/<token>/) and the calling
# screen's key (/screen/<key>/) work like passwords.
_PATH_SECRET = re.compile(r"(?P<prefix>/(?:m|manage/link|screen)/)[^/\s\"'?]+")
# Phone numbers in international form, and any run of 8 or more digits (document numbers).
_NUMBER = re.compile(r"\+\d[\d -]{6,}\d|\b\d{8,}\b")


def redact(text: str) -> str:
    """Return `text` with query strings, secrets in paths, e-mail addresses, phone and document
    numbers replaced."""
    text = _QUERY_STRING.sub(r"\g<path>?[redacted]", text)
    text = _PATH_SECRET.sub(r"\g<prefix>[redacted]", text)
    text = _EMAIL.sub("[email]", text)
    return _NUMBER.sub("[number]", text)


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
