"""Limits of the booking pages (issue 13): live holds per client address (HOLD_LIVE_PER_ADDRESS)
and active appointments per phone number (ACTIVE_APPOINTMENTS_PER_PHONE). For each: the request
just under the limit passes, the one over it gets the page again (429, Retry-After) with what was
chosen or typed kept and when to try again; and two requests at once cannot both pass."""

import datetime
import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format

from appointments.errors import BookingError, ErrorCode
from appointments.models import Appointment, Hold, Slot
from appointments.services.booking import book_appointment, hold_slot
from appointments.services.changes import cancel_appointment, move_appointment
from appointments.services.slots import generate_slots
from core.limits import keyed_hash
from eligibility.services import screening_reference
from tests.appointments.conftest import OfficeFactory, details, make_screening
from tests.appointments.test_concurrency import race
from tests.appointments.test_pages import bookable, details_data, url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_counts(settings: Any) -> None:
    settings.HOLD_RATE = "995/m"  # a count of holds per address of its own (see test_journey.py)


@pytest.fixture
def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture
def live_office(published: Any) -> Any:
    office = OfficeFactory(
        name="Oficina Bogotá Centro",
        hours=[(day, datetime.time(8), datetime.time(12), 4) for day in range(7)],
        max_party_size=3,
    )
    generate_slots(office=office)
    return office


def person(published: Any, address: str) -> Client:
    """A browser with an eligible screening of its own, from this address."""
    client = Client(REMOTE_ADDR=address)
    screening = make_screening(published)
    assert client.get("/en/book/", {"screening": screening_reference(screening)}).status_code == 302
    client.screening = screening
    return client


def choose(client: Client, office: Any, slot: Slot) -> Any:
    return client.post(url("choose-slot", office.slug, slot.local_start().date(), lang="en"), {"slot": slot.pk})


def assert_try_again(response: Any, office: Any) -> int:
    html = response.content.decode()
    seconds = int(response["Retry-After"])
    found = re.search(r"Please try again in (\d+) minutes?, at (\d\d:\d\d)", html)
    assert found, html
    assert int(found[1]) == -(-seconds // 60)
    at = timezone.localtime(timezone.now() + datetime.timedelta(seconds=seconds), office.zone)
    assert found[2] in {at.strftime("%H:%M"), (at - datetime.timedelta(minutes=1)).strftime("%H:%M")}
    return seconds


# ---------------------------------------------------------------------------------------------
# Live holds per address
# ---------------------------------------------------------------------------------------------
def test_live_holds_per_address_the_one_over_the_cap_keeps_its_choice(published, live_office, address, settings):
    settings.HOLD_LIVE_PER_ADDRESS = 3
    slot = bookable(live_office)
    browsers = [person(published, address) for _ in range(4)]
    for browser in browsers[:3]:  # up to the cap: each holds a place
        assert choose(browser, live_office, slot)["Location"] == url("people", lang="en")
    response = choose(browsers[3], live_office, slot)
    assert response.status_code == 429
    seconds = assert_try_again(response, live_office)
    assert seconds <= live_office.hold_minutes * 60
    html = response.content.decode()
    assert "Too many times are held from this connection at once (at most 3)." in html
    assert re.search(rf'value="{slot.pk}"[^>]*checked', html), "the time chosen is still selected"
    assert Hold.objects.count() == 3
    # The address is kept only as a keyed hash.
    assert set(Hold.objects.values_list("address_key", flat=True)) == {keyed_hash(address, purpose="address")}
    # Another address is not affected.
    assert choose(person(published, "192.0.2.8"), live_office, slot).status_code == 302


def test_a_hold_that_replaces_the_sessions_own_does_not_count_twice(published, live_office, address, settings):
    settings.HOLD_LIVE_PER_ADDRESS = 2
    first = bookable(live_office)
    second = Slot.objects.filter(office=live_office, starts_at__gt=first.starts_at).order_by("starts_at").first()
    browsers = [person(published, address) for _ in range(2)]
    for browser in browsers:
        assert choose(browser, live_office, first)["Location"] == url("people", lang="en")
    # At the cap, a browser choosing another time gives its own hold back in the same step.
    assert choose(browsers[0], live_office, second)["Location"] == url("people", lang="en")
    assert sorted(Hold.objects.values_list("slot_id", flat=True)) == sorted([first.pk, second.pk])
    # The cap still holds for a browser without a hold of its own.
    assert choose(person(published, address), live_office, second).status_code == 429


def test_a_hold_given_back_or_run_out_frees_its_place_in_the_cap(published, live_office, address, settings):
    settings.HOLD_LIVE_PER_ADDRESS = 1
    slot = bookable(live_office)
    assert choose(person(published, address), live_office, slot).status_code == 302
    late = person(published, address)
    assert choose(late, live_office, slot).status_code == 429
    Hold.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert choose(late, live_office, slot).status_code == 302


def test_details_sent_after_the_hold_ran_out_over_the_cap_are_shown_again_as_typed(
    published, live_office, address, settings
):
    settings.HOLD_LIVE_PER_ADDRESS = 1
    slot = bookable(live_office)
    late = person(published, address)
    assert choose(late, live_office, slot).status_code == 302
    Hold.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert choose(person(published, address), live_office, slot).status_code == 302  # its hold ran out
    response = late.post(url("details", lang="en"), details_data(full_name="Ana Lucía Gómez"))
    assert response.status_code == 429
    assert_try_again(response, live_office)
    html = response.content.decode()
    assert "Too many times are held from this connection at once (at most 1)." in html
    assert 'value="Ana Lucía Gómez"' in html, "what was typed is in the form again"
    assert Hold.objects.filter(expires_at__gt=timezone.now()).count() == 1


def test_staff_and_moves_are_not_counted_per_address(published, live_office, address, settings):
    settings.HOLD_LIVE_PER_ADDRESS = 1
    slot = bookable(live_office)
    hold_slot(slot_id=slot.pk, screening=make_screening(published), address="a" * 64)
    # No address (staff at a desk computer, or a move): no cap.
    for _ in range(3):
        hold_slot(slot_id=slot.pk, screening=make_screening(published))
    with pytest.raises(BookingError) as refused:
        hold_slot(slot_id=slot.pk, screening=make_screening(published), address="a" * 64)
    assert refused.value.code == ErrorCode.LIMIT
    assert refused.value.retry_at == Hold.objects.get(address_key="a" * 64).expires_at


@pytest.mark.django_db(transaction=True)
def test_holds_from_one_address_at_the_same_moment_stop_at_the_cap(published, settings):
    settings.HOLD_LIVE_PER_ADDRESS = 3
    settings.BOOKING_LOCK_TIMEOUT_MS = 30_000
    office = OfficeFactory(hours=[])
    starts = timezone.now() + datetime.timedelta(days=2)
    slot = Slot.objects.create(
        office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=20
    )
    screenings = [make_screening(published) for _ in range(10)]
    results = race(10, lambda i: hold_slot(slot_id=slot.pk, screening=screenings[i], address="b" * 64))
    refused = [result for result in results if isinstance(result, BookingError)]
    assert len(refused) == 7, results
    assert {error.code for error in refused} == {ErrorCode.LIMIT}
    assert Hold.objects.count() == 3
    assert Slot.objects.get(pk=slot.pk).taken == 3


# ---------------------------------------------------------------------------------------------
# Active appointments per phone number
# ---------------------------------------------------------------------------------------------
def _book(published: Any, slot: Slot, document: str, phone: str = "+573001234567", **extra: Any) -> Appointment:
    return book_appointment(
        screening=make_screening(published),
        slot_id=slot.pk,
        details=details(document_number=document, phone=phone),
        booking_key=uuid.uuid4(),
        **extra,
    )


def test_a_third_appointment_for_one_phone_is_refused_on_the_check_page_with_the_details_kept(
    published, live_office, address
):
    slot = bookable(live_office)
    first = _book(published, slot, "P0000001", phone="+573001234567")
    _book(published, slot, "P0000002", phone="+57 300 123 4567")  # the same number, spelt otherwise
    client = person(published, address)
    assert choose(client, live_office, slot).status_code == 302
    assert client.post(url("details", lang="en"), details_data(phone="300 123 4567")).status_code == 302
    page = client.get(url("check", lang="en")).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page)[1]
    response = client.post(url("check", lang="en"), {"key": key})
    assert response.status_code == 429
    html = response.content.decode()
    assert "This mobile phone number already has 2 appointments that have not taken place yet" in html
    # When: the first of them ends (more than an hour away: a day and a time, the office's).
    ends = timezone.localtime(first.slot.ends_at, live_office.zone)
    with translation.override("en"):
        assert f"You can try again from {date_format(ends, 'DATE_FORMAT')} at {ends.strftime('%H:%M')}." in html
    assert 0 < int(response["Retry-After"]) - (first.slot.ends_at - timezone.now()).total_seconds() <= 2
    # The details stay with the hold: the check page shows them, to confirm later or change the phone.
    assert "Nguyễn Thị Lan" in html
    assert f'name="key" value="{key}"' in html
    assert Hold.objects.get(token=client.session["booking"]["hold"]).details["full_name"] == "Nguyễn Thị Lan"
    assert Appointment.objects.count() == 2
    # With another number, the same page goes through.
    client.post(url("details", lang="en"), details_data(phone="300 765 4321"))
    assert client.post(url("check", lang="en"), {"key": key})["Location"] == url("appointment", lang="en")
    assert Appointment.objects.count() == 3


def test_a_second_appointment_for_one_phone_passes_and_cancelled_or_past_ones_do_not_count(
    published, live_office, settings
):
    slot = bookable(live_office)
    cancelled = _book(published, slot, "P0000001")
    cancel_appointment(appointment_id=cancelled.pk)
    _book(published, slot, "P0000002")
    second = _book(published, slot, "P0000003")  # just under: the second active one
    assert second.pk
    with pytest.raises(BookingError) as refused:
        _book(published, slot, "P0000004")
    assert refused.value.code == ErrorCode.LIMIT
    # A booked appointment whose time has ended no longer counts.
    Appointment.objects.filter(pk=second.pk).update(slot=_ended_slot(live_office))
    assert _book(published, slot, "P0000004").pk


def _ended_slot(office: Any) -> Slot:
    starts = timezone.now() - datetime.timedelta(hours=2)
    return Slot.objects.create(
        office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=5
    )


def test_staff_booking_on_a_persons_behalf_is_limited_too_and_a_move_keeps_the_count(
    published, live_office, admin_user
):
    slot = bookable(live_office)
    _book(published, slot, "P0000001")
    kept = _book(published, slot, "P0000002")
    with pytest.raises(BookingError) as refused:
        _book(published, slot, "P0000003", actor=admin_user)
    assert refused.value.code == ErrorCode.LIMIT
    later = Slot.objects.filter(office=live_office, starts_at__gt=slot.starts_at).order_by("starts_at").first()
    moved = move_appointment(appointment_id=kept.pk, slot_id=later.pk)
    assert moved.slot_id == later.pk


@pytest.mark.django_db(transaction=True)
def test_bookings_for_one_phone_at_the_same_moment_stop_at_the_cap(published, settings):
    settings.BOOKING_LOCK_TIMEOUT_MS = 30_000
    office = OfficeFactory(hours=[])
    slots = []
    for n in range(6):
        starts = timezone.now() + datetime.timedelta(days=2, hours=n)
        slots.append(
            Slot.objects.create(
                office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=5
            )
        )
    screenings = [make_screening(published) for _ in range(6)]
    results = race(
        6,
        lambda i: book_appointment(
            screening=screenings[i],
            slot_id=slots[i].pk,
            details=details(document_number=f"RACE{i}", phone="+573001234567"),
            booking_key=uuid.uuid4(),
        ),
    )
    refused = [result for result in results if isinstance(result, BookingError)]
    assert len(refused) == 4, results
    assert {error.code for error in refused} == {ErrorCode.LIMIT}
    assert Appointment.objects.count() == 2
