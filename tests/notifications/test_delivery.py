"""End to end with a real Celery worker process and Redis: booking → SMS file and e-mail received
by a local SMTP server; a task delivered twice; a worker that died after claiming; the broker down
while booking (a Redis of its own, stopped and started again)."""

import datetime
import email
import email.header
import logging
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from appointments.models import Appointment
from appointments.services.booking import book_appointment
from appointments.services.slots import generate_slots
from eligibility.services import screening_reference
from movilidad.celery import app as celery_app
from notifications import sending, services
from notifications.models import Notification
from notifications.tasks import send_notification
from tests.appointments.conftest import OfficeFactory, details, key, make_screening
from tests.appointments.test_pages import choose, details_data, url
from tests.conftest import running_worker
from tests.notifications.conftest import free_port, sms_files

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s: {condition.__doc__ or condition}")


@pytest.fixture
def worker_env(sms_folder: Path, smtp_server: Any) -> dict[str, str]:
    return {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "SMS_BACKEND": "notifications.sms.FileBackend",
        "SMS_FILE_PATH": str(sms_folder),
        "SITE_URL": "https://citas.example.org",
    }


def book_now(published: Any, *, language: str = "es", email_address: str = "ana@example.org", n: int = 0):
    now = timezone.now()
    office = OfficeFactory(hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)])
    generate_slots(office=office, now=now)
    slot = office.slots.filter(starts_at__gte=now + datetime.timedelta(hours=30)).order_by("starts_at").first()
    return book_appointment(
        screening=make_screening(published),
        slot_id=slot.pk,
        details=details(language=language, email=email_address, document_number=f"D{n}"),
        booking_key=key(),
    )


def all_sent(appointment) -> bool:
    statuses = set(Notification.objects.filter(appointment=appointment).values_list("status", flat=True))
    return statuses == {"sent"}


@pytest.mark.parametrize(
    ("language", "subject", "sms_words"),
    [("en", "Your appointment", "booked"), ("es", "Su cita", "reservada")],
)
def test_a_booking_reaches_the_phone_and_the_mailbox_in_the_applicant_s_language(
    celery_worker, published, smtp_server, sms_folder, language, subject, sms_words
):
    appointment = book_now(published, language=language)
    wait_until(lambda: all_sent(appointment))
    (envelope,) = smtp_server.messages
    message = email.message_from_bytes(envelope.content)
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))).startswith(
        f"{subject} {appointment.display_reference}"
    )
    parts = {part.get_content_type(): part for part in message.walk()}
    assert {"text/plain", "text/html", "text/calendar"} <= set(parts)
    ics = parts["text/calendar"].get_payload(decode=True).decode()
    assert f"DTSTART:{appointment.slot.starts_at.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in ics
    assert appointment.display_reference in ics
    (sms,) = sms_files(sms_folder)
    assert f"{appointment.display_reference} {sms_words}" in sms
    assert f"To: {appointment.phone.as_e164}" in sms


def test_the_same_task_delivered_twice_sends_once(celery_worker, published, sms_folder):
    appointment = book_now(published, email_address="")
    wait_until(lambda: all_sent(appointment))
    (notification,) = Notification.objects.filter(appointment=appointment)
    results = [send_notification.delay(notification.pk), send_notification.delay(notification.pk)]
    assert [result.get(timeout=30) for result in results] == ["skipped", "skipped"]
    Notification.objects.filter(pk=notification.pk).update(status="pending", attempts=0)
    twice = [send_notification.delay(notification.pk), send_notification.delay(notification.pk)]
    assert sorted(result.get(timeout=30) for result in twice) == ["sent", "skipped"]
    assert len(sms_files(sms_folder)) == 2  # the booking's, and one of the two deliveries


def test_a_worker_that_died_after_claiming_leaves_one_message(celery_worker, published, sms_folder, settings):
    appointment = book_now(published, email_address="")
    wait_until(lambda: all_sent(appointment))
    notification = Notification.objects.get(appointment=appointment)
    # As a worker that claimed the row and was killed before sending leaves it:
    claimed = timezone.now() - datetime.timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT + 1)
    Notification.objects.filter(pk=notification.pk).update(status="sending", claimed_at=claimed, sent_at=None)
    for path in sms_folder.glob("*.txt"):
        path.unlink()
    assert services.dispatch() == {"recovered": 1, "failed": 0, "enqueued": 1}
    wait_until(lambda: Notification.objects.get(pk=notification.pk).status == "sent")
    services.dispatch()  # nothing more to do
    assert len(sms_files(sms_folder)) == 1


@pytest.fixture
def own_redis() -> Iterator[dict[str, Any]]:
    """A Redis server of this test's own, which the test may stop and start again."""
    folder = Path(tempfile.mkdtemp(prefix="redis-broker-"))
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(folder)]  # fmt: skip
    server: dict[str, Any] = {"url": f"redis://127.0.0.1:{port}/0", "port": port}

    def start() -> None:
        server["process"] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(lambda: _answers(port), 10)

    def stop() -> None:
        server["process"].terminate()
        server["process"].wait(10)
        wait_until(lambda: not _answers(port), 10)

    server.update(start=start, stop=stop)
    start()
    try:
        yield server
    finally:
        if server["process"].poll() is None:
            stop()
        shutil.rmtree(folder, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_broker_down_while_booking_delivers_once_it_is_back(
    transactional_db, published, own_redis, worker_env, sms_folder, monkeypatch, caplog, client
):
    # Celery reads the broker's address from the environment first (see tests/conftest.py).
    monkeypatch.setenv("CELERY_BROKER_URL", own_redis["url"])
    fresh_connections(monkeypatch)
    own_redis["stop"]()

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="notifications.services"):
        appointment = book_through_the_pages(client, published)  # the broker is down at commit
    assert time.monotonic() - started < 20  # publishing gives up quickly
    assert "broker unavailable" in caplog.text
    assert Notification.objects.get(appointment=appointment).status == "pending"

    own_redis["start"]()
    fresh_connections(monkeypatch)
    with running_worker(**worker_env):
        later = timezone.now() + datetime.timedelta(minutes=1)
        assert services.dispatch(now=later)["enqueued"] == 1
        wait_until(lambda: all_sent(appointment))
        services.dispatch(now=later + datetime.timedelta(minutes=1))
        wait_until(lambda: len(sms_files(sms_folder)) >= 1)
    assert len(sms_files(sms_folder)) == 1


def book_through_the_pages(client: Any, published: Any) -> Any:
    """Book as the applicant does, and check the confirmation page is shown."""
    office = OfficeFactory(hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)])
    generate_slots(office=office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    choose(client, office)
    assert client.post(url("details"), details_data(email="")).status_code == 302
    key = re.search(r'name="key" value="([^"]+)"', client.get(url("check")).content.decode())[1]
    response = client.post(url("check"), {"key": key}, follow=True)
    assert response.status_code == 200
    appointment = Appointment.objects.get(booking_key=key)
    assert appointment.display_reference in response.content.decode()
    return appointment


def fresh_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the app open new broker connections (to the URL just set); put the old pools back after."""
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)


def test_a_temporary_mail_refusal_then_acceptance_through_the_worker(celery_worker, published, smtp_server):
    smtp_server.refuse = ["451 4.3.0 Mailbox busy, try again"]
    appointment = book_now(published)
    mail = Notification.objects.get(appointment=appointment, channel="email")
    wait_until(
        lambda: (
            Notification.objects.get(pk=mail.pk).attempts == 1
            and Notification.objects.get(pk=mail.pk).status == "pending"
        )
    )
    assert "451" in Notification.objects.get(pk=mail.pk).last_error
    assert smtp_server.messages == []
    # The minute of backoff has passed:
    Notification.objects.filter(pk=mail.pk).update(due_at=timezone.now())
    assert services.dispatch()["enqueued"] == 1
    wait_until(lambda: Notification.objects.get(pk=mail.pk).status == "sent")
    assert len(smtp_server.messages) == 1


def test_a_permanent_mail_refusal_through_the_worker_fails_with_the_reason(celery_worker, published, smtp_server):
    smtp_server.refuse = ["550 5.1.1 No such mailbox"]
    appointment = book_now(published)
    mail = Notification.objects.get(appointment=appointment, channel="email")
    wait_until(lambda: Notification.objects.get(pk=mail.pk).status == "failed")
    assert "550" in Notification.objects.get(pk=mail.pk).last_error
    wait_until(lambda: Notification.objects.get(appointment=appointment, channel="sms").status == "sent")


def test_a_worker_killed_while_sending_leaves_exactly_one_message(
    transactional_db, published, worker_env, sms_folder, settings
):
    blocking = {**worker_env, "SMS_BACKEND": "tests.notifications.fake_backends.BlockingBackend"}
    with running_worker(**blocking) as worker:
        appointment = book_now(published, email_address="")
        sms = Notification.objects.get(appointment=appointment)
        began = sms_folder / f"began-{sending.sms_reference(sms)}"
        wait_until(began.exists)
        assert Notification.objects.get(pk=sms.pk).status == "sending"
        worker.kill()  # SIGKILL, mid-send
        worker.wait(10)
    assert Notification.objects.get(pk=sms.pk).status == "sending"
    settings.NOTIFICATION_SENDING_TIMEOUT = 0
    with running_worker(**worker_env):
        assert services.dispatch()["recovered"] == 1
        wait_until(lambda: Notification.objects.get(pk=sms.pk).status == "sent")
    assert len(sms_files(sms_folder)) == 1
    assert Notification.objects.get(pk=sms.pk).attempts == 2
