"""A booked appointment at a Bogotá office, an SMS folder per test, and a local SMTP server."""

import datetime
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from appointments.models import Appointment, Slot
from appointments.services.booking import book_appointment
from appointments.services.slots import generate_slots
from tests.appointments.conftest import NOW, OfficeFactory, details, key, make_screening


@pytest.fixture(autouse=True)
def sms_folder(tmp_path: Path, settings: Any) -> Path:
    settings.SMS_BACKEND = "notifications.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"
    settings.SITE_URL = "https://citas.example.org"
    return tmp_path / "sms"


def sms_files(folder: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))] if folder.exists() else []


@pytest.fixture
def office(published: Any):
    office = OfficeFactory(
        name="Oficina de Movilidad Segura Bogotá", city="Bogotá", reminder_hours=24, last_reminder_hours=2
    )
    generate_slots(office=office, now=NOW)
    return office


def slot_after(office, hours: float) -> Slot:
    return (
        Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(hours=hours))
        .order_by("starts_at")
        .first()
    )


def book(
    office, published, *, language: str = "es", email: str = "ana@example.org", hours: float = 48, **extra
) -> Appointment:
    return book_appointment(
        screening=make_screening(published, created_at=NOW),
        slot_id=slot_after(office, hours).pk,
        details=details(language=language, email=email, **extra),
        booking_key=key(),
        now=NOW,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.refuse: list[str] = []  # SMTP replies to give, in order, before accepting

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Recorder]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    recorder.port = settings.EMAIL_PORT
    try:
        yield recorder
    finally:
        controller.stop()


class FakeProvider(BaseHTTPRequestHandler):
    """A local stand-in for the SMS provider: records requests; answers from `replies`."""

    requests: list[dict[str, Any]]
    replies: list[tuple[int, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append({"headers": dict(self.headers), "json": json.loads(body)})
        status, answer = self.replies.pop(0) if self.replies else (200, {"id": f"msg-{len(self.requests)}"})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def sms_provider(settings: Any) -> Iterator[type[FakeProvider]]:
    handler = type("Provider", (FakeProvider,), {"requests": [], "replies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "notifications.sms.HttpBackend"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    settings.SMS_HTTP_USER, settings.SMS_HTTP_PASSWORD, settings.SMS_SENDER = "acct", "s3cret", "Movilidad"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
