"""Logging filter that keeps personal data out of log lines.

Query strings can carry whatever a browser or a bot sent, and an e-mail address can slip into an
exception message; both are replaced before any handler writes the record.
"""

import logging
import re

_QUERY_STRING = re.compile(r"(?P<path>/[^\s\"'?]*)\?[^\s\"']*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Return `text` with query strings and e-mail addresses replaced by markers."""
    text = _QUERY_STRING.sub(r"\g<path>?[redacted]", text)
    return _EMAIL.sub("[email]", text)


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
