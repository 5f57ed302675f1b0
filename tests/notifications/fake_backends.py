"""Test-only backends: an SMS provider that never answers (to kill a worker mid-send) and a mail
server that refuses our credentials."""

import time
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class BlockingBackend:
    def send(self, *, to: str, text: str, reference: str = "") -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"began-{reference}").touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
        raise TimeoutError("the blocking backend was never killed")


class AuthRefusedEmailBackend(BaseEmailBackend):
    """An e-mail backend whose server refuses our credentials (SMTP 535)."""

    def send_messages(self, messages: list) -> int:
        import smtplib

        raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")
