"""The whole path through a real Celery worker: a cancellation commits, appointments sends
place_freed, allocation's receiver enqueues the task, the worker offers the place and the outbox
sends the SMS; the per-minute upkeep passes an offer not taken on."""

import datetime
import time
import uuid
from collections.abc import Callable

import pytest
from django.utils import timezone

from allocation import waitlist_services as services
from allocation.models import WaitlistEntry
from allocation.tasks.waitlist import waitlist_upkeep
from appointments.models import Slot
from appointments.services.booking import book_appointment
from appointments.services.changes import cancel_appointment
from notifications.models import SECRETS_ERASED, Notification
from tests.appointments.conftest import OfficeFactory, details, make_screening

pytestmark = pytest.mark.django_db(transaction=True)
Status = WaitlistEntry.Status


@pytest.fixture
def worker_env(tmp_path):
    return {"SMS_FILE_PATH": str(tmp_path / "sms"), "SITE_URL": "https://citas.example.org"}


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.1)


def test_a_cancellation_reaches_the_first_person_waiting_by_sms(published, celery_worker, tmp_path):
    office = OfficeFactory(hours=[], city="Cali")
    starts = (timezone.now() + datetime.timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    slot = Slot.objects.create(
        office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=1
    )
    appointment = book_appointment(
        screening=make_screening(published),
        slot_id=slot.pk,
        details=details(document_number="C1234567", phone="+573109876543"),
        booking_key=uuid.uuid4(),
    )
    values = {
        "full_name": "Ana Gómez",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": "P7654321",
        "document_country": "VE",
        "date_of_birth": "1988-04-02",
        "phone": "+573001234567",
        "email": "",
        "language": "es",
        "party_size": 1,
        "companions": [],
    }
    entry, _token = services.join_waitlist(office=office, screening=make_screening(published), values=values)
    cancel_appointment(appointment_id=appointment.pk)
    wait_for(lambda: WaitlistEntry.objects.get(pk=entry.pk).status == Status.OFFERED)
    offers = Notification.objects.filter(kind=Notification.Kind.WAITLIST, details__event="offer")
    wait_for(lambda: offers.filter(status=Notification.Status.SENT).exists())
    # Once sent, the message keeps no link to the place (docs/privacy.md): the SMS file has it.
    assert offers.get().details.get(SECRETS_ERASED) is True
    assert "url" not in offers.get().details
    texts = [path.read_text(encoding="utf-8") for path in (tmp_path / "sms").glob("*.txt")]
    [text] = [text for text in texts if "https://citas.example.org/es/waitlist/place/" in text]
    assert "+573001234567" in text
    assert "Cali" in text
    # Not taken in time: the upkeep ends the offer and the place is free again.
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert waitlist_upkeep.delay().get(timeout=30)["missed"] == 1
    assert WaitlistEntry.objects.get(pk=entry.pk).status == Status.MISSED
    slot.refresh_from_db()
    assert slot.taken == 0
