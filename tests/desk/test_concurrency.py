"""Fifty desks check fifty people in at the same moment, with real threads on PostgreSQL: fifty
distinct, consecutive ticket numbers. The control replaces the atomic sequence with a read of the
highest number, and the same race then gives duplicates (refused by the unique constraint)."""

import threading
from collections import Counter as Tally
from typing import Any

import pytest
from django.db import IntegrityError
from django.db.models import Max

from desk import services
from desk.models import Counter, Ticket
from tests.appointments.test_concurrency import outcome, race
from tests.desk.conftest import book_today, staff_of

pytestmark = pytest.mark.django_db(transaction=True)

DESKS = 50


@pytest.fixture(autouse=True)
def _patient_locks(settings: Any) -> None:
    settings.BOOKING_LOCK_TIMEOUT_MS = 30_000


@pytest.fixture
def fifty(desk_office, published):
    user = staff_of(desk_office)[1]
    return user, [book_today(desk_office, published, n) for n in range(DESKS)]


def check_in_all(office, user, people) -> list[Any]:
    return race(DESKS, lambda i: services.check_in(office=office, appointment_id=people[i].pk, actor=user))


def test_fifty_simultaneous_check_ins_get_fifty_consecutive_numbers(desk_office, fifty):
    user, people = fifty
    results = check_in_all(desk_office, user, people)
    assert Tally(map(outcome, results)) == {"ok": DESKS}
    numbers = sorted(Ticket.objects.filter(office=desk_office).values_list("number", flat=True))
    assert numbers == list(range(1, DESKS + 1))


def test_control_without_the_sequence_numbers_collide(desk_office, fifty, monkeypatch):
    user, people = fifty
    everyone_read = threading.Barrier(DESKS)

    def highest_plus_one(office_id, day):
        number = (Ticket.objects.filter(office_id=office_id, day=day).aggregate(top=Max("number"))["top"] or 0) + 1
        everyone_read.wait()
        return number

    monkeypatch.setattr(services, "next_ticket_number", highest_plus_one)
    results = check_in_all(desk_office, user, people)
    assert any(isinstance(result, IntegrityError) for result in results)
    assert Ticket.objects.filter(office=desk_office).count() < DESKS


def test_two_desks_calling_next_at_once_call_two_people(desk_office, fifty):
    user, people = fifty
    for person in people[:2]:
        services.check_in(office=desk_office, appointment_id=person.pk, actor=user)
    counters = list(Counter.objects.filter(office=desk_office)[:2])
    results = race(2, lambda i: services.call_next(office=desk_office, counter_id=counters[i].pk, actor=user))
    assert {type(result).__name__ for result in results} == {"Ticket"}
    assert {result.appointment_id for result in results} == {people[0].pk, people[1].pk}
