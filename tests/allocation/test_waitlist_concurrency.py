"""Cancellations at the same moment, with several people waiting: each freed place is offered to
exactly one person, nobody holds two offers, no slot goes over its capacity. Real threads, each
with its own PostgreSQL connection; the offers run as the Celery task runs them (the service)."""

import datetime
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from allocation import waitlist_services as services
from allocation.models import WaitlistEntry
from appointments.models import Hold, Slot
from appointments.services.booking import book_appointment
from appointments.services.changes import cancel_appointment
from tests.appointments.conftest import OfficeFactory, details, make_screening

pytestmark = pytest.mark.django_db(transaction=True)
Status = WaitlistEntry.Status

PLACES = 6  # booked, then cancelled at once
WAITING = 9


@pytest.fixture(autouse=True)
def _patient_locks(settings: Any) -> None:
    settings.BOOKING_LOCK_TIMEOUT_MS = 30_000


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` in `count` threads released together; return each result or exception."""
    start = threading.Barrier(count)

    def run(i: int) -> Any:
        try:
            start.wait()
            return attempt(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each got
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def crowded(published: Any) -> tuple[list[Slot], list[int], list[WaitlistEntry]]:
    """Three times of two places each, all booked; nine people waiting, in order."""
    office = OfficeFactory(hours=[])
    starts = (timezone.now() + datetime.timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    slots = [
        Slot.objects.create(
            office=office,
            starts_at=starts + datetime.timedelta(minutes=30 * i),
            ends_at=starts + datetime.timedelta(minutes=30 * (i + 1)),
            capacity=2,
        )
        for i in range(PLACES // 2)
    ]
    appointments = [
        book_appointment(
            screening=make_screening(published),
            slot_id=slots[i // 2].pk,
            details=details(document_number=f"B{i:07d}", phone=f"+57310{i:07d}"),
            booking_key=uuid.uuid4(),
        ).pk
        for i in range(PLACES)
    ]
    entries = []
    for n in range(WAITING):
        entry, _token = services.join_waitlist(
            office=office,
            screening=make_screening(published),
            values={
                "full_name": f"Persona {n}",
                "nationality": "VE",
                "document_type": "passport",
                "document_number": f"W{n:07d}",
                "document_country": "VE",
                "date_of_birth": "1990-01-01",
                "phone": f"+57300{n:07d}",
                "email": "",
                "language": "es",
                "party_size": 1,
                "companions": [],
            },
            now=timezone.now() + datetime.timedelta(seconds=n),  # a clear order
        )
        entries.append(entry)
    return slots, appointments, entries


def check_offers(slots: list[Slot], entries: list[WaitlistEntry], expected: int) -> None:
    offered = list(WaitlistEntry.objects.filter(status=Status.OFFERED).order_by("joined_at"))
    # The first people in the list, each once.
    assert [entry.pk for entry in offered] == [entry.pk for entry in entries[:expected]]
    holds = Hold.objects.filter(token__in=[entry.offer_hold for entry in offered])
    assert holds.count() == expected
    assert Counter(hold.slot_id for hold in holds) == Counter(entry.offer_slot_id for entry in offered)
    for slot in slots:
        slot.refresh_from_db()
        assert slot.taken <= slot.capacity
        assert slot.taken == slot.appointments.filter(status="booked").count() + slot.holds.count()
    assert WaitlistEntry.objects.filter(status=Status.WAITING).count() == WAITING - expected


def test_cancellations_at_once_offer_each_place_to_one_person(crowded):
    slots, appointments, entries = crowded
    slot_of = dict(zip(appointments, [s for s in slots for _ in range(2)], strict=True))

    def cancel_then_offer(i: int) -> Any:
        appointment = appointments[i % PLACES]
        if i < PLACES:
            cancel_appointment(appointment_id=appointment)
        # The task, delivered once per cancellation and once more (a redelivery), all at once.
        return services.offer_freed_place(slot_id=slot_of[appointment].pk)

    results = race(PLACES * 2, cancel_then_offer)
    assert not [result for result in results if isinstance(result, Exception)]
    offered = [result for result in results if result is not None]
    # Each place went to one person; the redeliveries found either no free place or offered one
    # the first delivery of another slot had not reached yet: never more than the places freed.
    assert len(offered) == PLACES
    assert len({entry.pk for entry in offered}) == PLACES
    check_offers(slots, entries, PLACES)


def test_offers_of_the_same_slot_at_once_never_overfill_it(crowded):
    slots, appointments, entries = crowded
    cancel_appointment(appointment_id=appointments[0])
    # Ten deliveries of the news of one freed place, at once: one offer.
    results = race(10, lambda _i: services.offer_freed_place(slot_id=slots[0].pk))
    assert not [result for result in results if isinstance(result, Exception)]
    assert len([result for result in results if result is not None]) == 1
    check_offers(slots, entries, 1)
