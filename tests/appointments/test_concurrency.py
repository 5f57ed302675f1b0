"""Races on PostgreSQL with real threads, each with its own database connection."""

import datetime
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import IntegrityError, connection

from appointments.errors import BookingError
from appointments.models import Appointment, Hold, Office, Slot
from appointments.services import places
from appointments.services.booking import book_appointment, hold_slot
from appointments.services.changes import move_appointment
from appointments.services.slots import generate_all_slots
from eligibility.models import Screening
from tests.appointments.conftest import NOW, OfficeFactory, details, key, make_screening, row_locked

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 50


@pytest.fixture(autouse=True)
def _patient_locks(settings: Any) -> None:
    # Fifty clients queue on one row: let them wait rather than be told "busy" (tested apart).
    settings.BOOKING_LOCK_TIMEOUT_MS = 30_000


@pytest.fixture
def race_slot(published: Any) -> tuple[Office, Slot, Screening]:
    office = OfficeFactory(hours=[])
    starts_at = NOW + datetime.timedelta(days=2)
    slot = Slot.objects.create(
        office=office, starts_at=starts_at, ends_at=starts_at + datetime.timedelta(minutes=30), capacity=5
    )
    return office, slot, make_screening(published, created_at=NOW)


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` in `count` threads released together; return each result or exception."""
    start = threading.Barrier(count)

    def run(i: int) -> Any:
        try:
            start.wait()
            return attempt(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each client got
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def outcome(result: Any) -> str:
    if isinstance(result, BookingError):
        return result.code
    if isinstance(result, Exception):
        return type(result).__name__
    return "ok"


def test_fifty_clients_race_for_five_places(race_slot):
    _, slot, screening = race_slot
    results = race(
        CLIENTS,
        lambda i: book_appointment(
            screening=screening, slot_id=slot.pk, details=details(document_number=f"R{i}"), booking_key=key(), now=NOW
        ),
    )
    assert Counter(map(outcome, results)) == {"ok": 5, "full": 45}
    slot.refresh_from_db()
    assert Appointment.objects.filter(slot=slot).count() == 5 == slot.taken


def test_fifty_clients_race_for_five_holds(race_slot, published):
    _, slot, _ = race_slot
    # Fifty people, fifty screenings (one screening keeps one hold at a time).
    screenings = [make_screening(published, created_at=NOW) for _ in range(CLIENTS)]
    results = race(CLIENTS, lambda i: hold_slot(slot_id=slot.pk, screening=screenings[i], now=NOW))
    assert Counter(map(outcome, results)) == {"ok": 5, "full": 45}
    slot.refresh_from_db()
    assert Hold.objects.filter(slot=slot).count() == 5 == slot.taken


def _move_or_book(moving: Appointment, slot: Slot, screening: Screening, document: str) -> Callable[[int], Any]:
    def attempt(i: int) -> Any:
        if i == 0:
            return move_appointment(appointment_id=moving.pk, slot_id=slot.pk, now=NOW)
        return book_appointment(
            screening=screening, slot_id=slot.pk, details=details(document_number=document), booking_key=key(), now=NOW
        )

    return attempt


def test_a_move_and_a_new_booking_race_for_the_last_place(race_slot):
    office, last, screening = race_slot
    for round_ in range(10):
        Slot.objects.filter(pk=last.pk).update(capacity=1, taken=0)
        Appointment.objects.filter(slot=last).delete()
        starts_at = NOW + datetime.timedelta(days=3, hours=round_)
        other = Slot.objects.create(
            office=office, starts_at=starts_at, ends_at=starts_at + datetime.timedelta(minutes=30), capacity=1
        )
        moving = book_appointment(
            screening=screening,
            slot_id=other.pk,
            details=details(document_number=f"M{round_}"),
            booking_key=key(),
            now=NOW,
        )
        results = race(2, _move_or_book(moving, last, screening, f"N{round_}"))
        assert sorted(map(outcome, results)) == ["full", "ok"]
        last.refresh_from_db()
        other.refresh_from_db()
        moved = isinstance(results[0], Appointment)
        assert Appointment.objects.filter(slot=last, status="booked").count() == 1 == last.taken
        assert other.taken == (0 if moved else 1)
        Appointment.objects.filter(slot=other).delete()
        other.delete()


def test_a_lock_wait_too_long_is_a_busy_answer(race_slot, settings):
    _, slot, screening = race_slot
    settings.BOOKING_LOCK_TIMEOUT_MS = 100
    with row_locked(slot), pytest.raises(BookingError) as info:
        book_appointment(screening=screening, slot_id=slot.pk, details=details(), booking_key=key(), now=NOW)
    assert info.value.code == "busy"
    assert "try again" in info.value.message
    assert not Appointment.objects.exists()


# ---------------------------------------------------------------------------------------------
# Negative controls: the race is real, so the tests above can fail.
# ---------------------------------------------------------------------------------------------
def _unlocked_reads(monkeypatch: pytest.MonkeyPatch, clients: int) -> None:
    """Replace the row lock by a plain read, and let every client read before anyone writes."""
    everyone_read = threading.Barrier(clients)

    def read_without_lock(*slot_ids: int) -> dict[int, Slot]:
        slots = {slot.pk: slot for slot in Slot.objects.select_related("office").filter(pk__in=slot_ids)}
        everyone_read.wait()
        return slots

    monkeypatch.setattr(places, "lock_slots", read_without_lock)


def test_control_without_the_lock_and_the_counter_the_race_overbooks(race_slot, monkeypatch):
    _, slot, screening = race_slot
    _unlocked_reads(monkeypatch, 20)

    def check_without_counting(slot: Slot) -> None:
        if slot.taken >= slot.capacity:
            raise BookingError("full", code="full")

    monkeypatch.setattr(places, "take_place", check_without_counting)
    results = race(
        20,
        lambda i: book_appointment(
            screening=screening, slot_id=slot.pk, details=details(document_number=f"C{i}"), booking_key=key(), now=NOW
        ),
    )
    assert Counter(map(outcome, results)) == {"ok": 20}
    assert Appointment.objects.filter(slot=slot).count() == 20 > slot.capacity


def test_control_without_the_lock_the_database_guard_still_refuses(race_slot, monkeypatch):
    _, slot, screening = race_slot
    _unlocked_reads(monkeypatch, 20)
    results = race(
        20,
        lambda i: book_appointment(
            screening=screening, slot_id=slot.pk, details=details(document_number=f"G{i}"), booking_key=key(), now=NOW
        ),
    )
    counts = Counter(map(outcome, results))
    assert counts == {"ok": 5, "IntegrityError": 15}
    assert all("appointments_slot_within_capacity" in str(r) for r in results if isinstance(r, IntegrityError))
    slot.refresh_from_db()
    assert Appointment.objects.filter(slot=slot).count() == 5 == slot.taken


def test_one_screening_in_twenty_browsers_at_once_keeps_one_hold(race_slot):
    office, slot, screening = race_slot
    others = [
        Slot.objects.create(
            office=office,
            starts_at=slot.starts_at + datetime.timedelta(hours=i),
            ends_at=slot.ends_at + datetime.timedelta(hours=i),
            capacity=5,
        )
        for i in range(1, 4)
    ]
    slots = [slot, *others]
    results = race(20, lambda i: hold_slot(slot_id=slots[i % 4].pk, screening=screening, now=NOW))
    assert all(isinstance(r, Hold) for r in results)
    assert Hold.objects.filter(screening=screening).count() == 1
    assert sum(Slot.objects.filter(pk__in=[s.pk for s in slots]).values_list("taken", flat=True)) == 1


def test_slot_generation_waits_for_no_booking_and_postpones_a_busy_office(race_slot, settings, published):
    office, slot, _ = race_slot
    OfficeFactory()  # a second office, generated after the busy one
    settings.BOOKING_LOCK_TIMEOUT_MS = 100
    with row_locked(slot):
        result = generate_all_slots(now=NOW)
    assert result.created > 0  # the other office got its slots
    assert Slot.objects.filter(office=office).count() == 1  # the busy one is left for the next run
