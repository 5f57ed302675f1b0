"""Slots generated from opening hours: horizon, idempotence, changes of hours, closures, DST."""

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appointments import schedule
from appointments.models import Appointment, Closure, OpeningHours, Slot
from appointments.services.booking import book_appointment
from appointments.services.changes import cancel_appointment
from appointments.services.slots import generate_slots
from tests.appointments.conftest import NOW, OfficeFactory, details, first_slot, key

pytestmark = pytest.mark.django_db


def local_times(office, **filters):
    zone = office.zone
    return [s.starts_at.astimezone(zone).strftime("%a %d %H:%M") for s in Slot.objects.filter(office=office, **filters)]


def test_slots_cover_the_horizon_in_local_time(published):
    office = OfficeFactory(horizon_days=14)
    result = generate_slots(office=office, now=NOW)
    slots = list(Slot.objects.filter(office=office).order_by("starts_at"))
    # Mon 23 Nov to Mon 7 Dec, weekdays only, 8 slots of 30 min from 08:00 to 12:00.
    # 11 weekdays; today's 08:00 slot starts at "now" and is not generated.
    assert result.created == len(slots) == 11 * 8 - 1
    first = slots[0].starts_at.astimezone(office.zone)
    assert (first.date(), first.hour, first.minute) == (datetime.date(2026, 11, 23), 8, 30)
    last = slots[-1].starts_at.astimezone(office.zone)
    assert (last.date(), last.hour, last.minute) == (datetime.date(2026, 12, 7), 11, 30)
    assert all(s.ends_at - s.starts_at == datetime.timedelta(minutes=30) and s.capacity == 2 for s in slots)
    assert all(s.starts_at.astimezone(office.zone).weekday() < 5 for s in slots)


def test_generation_is_idempotent(published):
    office = OfficeFactory()
    generate_slots(office=office, now=NOW)
    before = list(Slot.objects.filter(office=office).values_list("pk", "starts_at", "capacity"))
    again = generate_slots(office=office, now=NOW)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert list(Slot.objects.filter(office=office).values_list("pk", "starts_at", "capacity")) == before


def test_changing_hours_regenerates_only_future_slots_with_nothing_booked(office, screening):
    booked = first_slot(office, after=NOW + datetime.timedelta(days=2))  # 08:00, outside the new hours
    assert booked.local_start().time() == datetime.time(8)
    book_appointment(screening=screening, slot_id=booked.pk, details=details(), booking_key=key(), now=NOW)
    still_open = Slot.objects.get(office=office, starts_at=booked.starts_at + datetime.timedelta(hours=1))
    book_appointment(
        screening=screening, slot_id=still_open.pk, details=details(document_number="Z9"), booking_key=key(), now=NOW
    )
    OpeningHours.objects.filter(office=office).update(opens=datetime.time(9), closes=datetime.time(11), capacity=3)
    result = generate_slots(office=office, now=NOW)
    assert result.deleted > 0
    booked.refresh_from_db()
    # Kept for staff with its appointment, but no one else can book a time the office no longer opens.
    assert (booked.capacity, booked.taken, booked.stranded) == (0, 1, 1)
    assert set(Appointment.objects.values_list("status", flat=True)) == {"booked"}
    # A booked slot the new hours still include takes their counters.
    still_open.refresh_from_db()
    assert (still_open.capacity, still_open.taken) == (3, 1)
    others = Slot.objects.filter(office=office).exclude(pk=booked.pk)
    assert {s.starts_at.astimezone(office.zone).time() for s in others} == {
        datetime.time(9),
        datetime.time(9, 30),
        datetime.time(10),
        datetime.time(10, 30),
    }
    assert {s.capacity for s in others} == {3}


def test_a_closure_zeroes_booked_slots_and_removes_the_others(office, screening):
    slot = first_slot(office)
    appointment = book_appointment(screening=screening, slot_id=slot.pk, details=details(), booking_key=key(), now=NOW)
    day = slot.local_start().date()
    Closure.objects.create(office=office, starts_on=day, ends_on=day, reason="Training")
    generate_slots(office=office, now=NOW)
    on_day = [s for s in Slot.objects.filter(office=office) if s.local_start().date() == day]
    assert [(s.pk, s.capacity, s.taken, s.stranded) for s in on_day] == [(slot.pk, 0, 1, 1)]
    appointment.refresh_from_db()
    assert appointment.status == "booked"  # left for staff to handle, not deleted
    # Cancelling the stranded appointment does not reopen a place in the closed slot.
    cancel_appointment(appointment_id=appointment.pk, now=NOW)
    slot.refresh_from_db()
    assert (slot.capacity, slot.taken, slot.stranded) == (0, 0, 0)


def test_a_closure_for_every_office(published):
    first, second = OfficeFactory(), OfficeFactory()
    Closure.objects.create(
        office=None, starts_on=datetime.date(2026, 12, 24), ends_on=datetime.date(2026, 12, 25), reason="Navidad"
    )
    for office in (first, second):
        office.horizon_days = 40
        office.save()
        generate_slots(office=office, now=NOW)
        days = {s.local_start().date() for s in Slot.objects.filter(office=office)}
        assert datetime.date(2026, 12, 23) in days
        assert not days & {datetime.date(2026, 12, 24), datetime.date(2026, 12, 25)}


def test_spring_forward_skips_the_missing_hour():
    # New York jumped from 02:00 to 03:00 on 8 March 2026.
    zone = ZoneInfo("America/New_York")
    hours = [schedule.Range(6, datetime.time(1), datetime.time(4), 1)]
    day = datetime.date(2026, 3, 8)
    slots = schedule.plan(first_day=day, last_day=day, ranges=hours, closed_days=set(), zone=zone, slot_minutes=30)
    local = [s.starts_at.astimezone(zone).strftime("%H:%M") for s in slots]
    assert local == ["01:00", "01:30", "03:00", "03:30"]
    assert all(s.ends_at - s.starts_at == datetime.timedelta(minutes=30) for s in slots)
    assert slots[2].starts_at == slots[1].ends_at


def test_fall_back_uses_the_repeated_hour_once():
    # New York went back from 02:00 to 01:00 on 1 November 2026.
    zone = ZoneInfo("America/New_York")
    hours = [schedule.Range(6, datetime.time(0, 30), datetime.time(3), 1)]
    day = datetime.date(2026, 11, 1)
    slots = schedule.plan(first_day=day, last_day=day, ranges=hours, closed_days=set(), zone=zone, slot_minutes=30)
    local = [s.starts_at.astimezone(zone).strftime("%H:%M %Z") for s in slots]
    assert local == ["00:30 EDT", "01:00 EDT", "01:30 EDT", "02:00 EST", "02:30 EST"]
    assert all(a.ends_at <= b.starts_at for a, b in itertools.pairwise(slots))


def test_generation_across_a_daylight_saving_change_is_stored_in_utc(published):
    office = OfficeFactory(
        time_zone="Europe/Madrid", horizon_days=10, hours=[(6, datetime.time(1), datetime.time(4), 1)]
    )
    # Madrid moves its clocks back at 03:00 on Sunday 25 October 2026.
    generate_slots(office=office, now=datetime.datetime(2026, 10, 20, tzinfo=datetime.UTC))
    starts = [s.starts_at for s in Slot.objects.filter(office=office).order_by("starts_at")]
    assert [s.astimezone(datetime.UTC).strftime("%H:%M") for s in starts] == [
        "23:00",
        "23:30",
        "00:00",
        "00:30",
        "02:00",
        "02:30",
    ]
    assert [s.astimezone(office.zone).strftime("%H:%M") for s in starts] == [
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
    ]


def test_management_command(office, capsys):
    Slot.objects.filter(office=office).delete()
    call_command("generate_slots", "--office", office.slug)
    assert Slot.objects.filter(office=office).exists()
    assert f"{office.slug}: " in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
ZONES = ["America/Bogota", "America/New_York", "Europe/Madrid", "Australia/Lord_Howe", "America/Santiago", "UTC"]
times = st.integers(min_value=0, max_value=24 * 4 - 1).map(lambda q: datetime.time(q // 4, 15 * (q % 4)))


@st.composite
def ranges(draw):
    weekday = draw(st.integers(0, 6))
    opens, closes = sorted(draw(st.lists(times, min_size=2, max_size=2, unique=True)))
    return schedule.Range(weekday, opens, closes, draw(st.integers(1, 5)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hours=st.lists(ranges(), min_size=1, max_size=6),
    zone_name=st.sampled_from(ZONES),
    slot_minutes=st.sampled_from([5, 10, 15, 20, 25, 30, 45, 60, 90]),
    first_day=st.dates(min_value=datetime.date(2026, 1, 1), max_value=datetime.date(2027, 12, 31)),
    closures=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 3)), max_size=3),
)
def test_generated_slots_never_overlap_stay_in_hours_and_skip_closures(
    hours, zone_name, slot_minutes, first_day, closures
):
    zone = ZoneInfo(zone_name)
    last_day = first_day + datetime.timedelta(days=20)
    closed = schedule.closed_days(
        (first_day + datetime.timedelta(days=start), first_day + datetime.timedelta(days=start + length))
        for start, length in closures
    )
    slots = schedule.plan(
        first_day=first_day, last_day=last_day, ranges=hours, closed_days=closed, zone=zone, slot_minutes=slot_minutes
    )
    ordered = sorted(slots, key=lambda s: s.starts_at)
    for earlier, later in itertools.pairwise(ordered):
        assert earlier.ends_at <= later.starts_at
    for slot in slots:
        local = slot.starts_at.astimezone(zone)
        assert local.date() not in closed
        assert slot.ends_at - slot.starts_at == datetime.timedelta(minutes=slot_minutes)
        assert any(
            r.weekday == local.weekday()
            and r.opens <= local.time().replace(tzinfo=None) < r.closes
            and schedule.range_bounds(local.date(), r, zone)[0] <= slot.starts_at
            and slot.ends_at <= schedule.range_bounds(local.date(), r, zone)[1]
            for r in hours
        ), (slot, local)


def test_a_booking_left_outside_new_hours_does_not_block_the_new_times(office, screening):
    booked = first_slot(office, after=NOW + datetime.timedelta(days=2))  # 08:00-08:30
    book_appointment(screening=screening, slot_id=booked.pk, details=details(), booking_key=key(), now=NOW)
    OpeningHours.objects.filter(office=office).update(opens=datetime.time(8, 15), closes=datetime.time(12, 15))
    generate_slots(office=office, now=NOW)
    day = booked.local_start().date()
    starts = [s.local_start().time() for s in Slot.objects.filter(office=office) if s.local_start().date() == day]
    assert datetime.time(8) in starts  # the booked one, kept with no places
    assert datetime.time(8, 15) in starts  # the new first time, open to bookings
    assert Slot.objects.get(pk=booked.pk).capacity == 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    first=st.lists(ranges(), min_size=1, max_size=3),
    second=st.lists(ranges(), min_size=1, max_size=3),
    minutes=st.sampled_from([15, 30, 45, 60]),
    zone_name=st.sampled_from(ZONES),
)
def test_regenerating_after_a_change_of_hours_keeps_bookings_and_never_overlaps_open_slots(
    published, screening, first, second, minutes, zone_name
):
    office = OfficeFactory(
        time_zone=zone_name, horizon_days=7, hours=[(r.weekday, r.opens, r.closes, r.capacity) for r in first]
    )
    generate_slots(office=office, now=NOW)
    bookable = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(hours=25)).order_by("pk")
    booked = [
        book_appointment(
            screening=screening,
            slot_id=slot.pk,
            details=details(document_number=f"H{office.pk}x{slot.pk}"),
            booking_key=key(),
            now=NOW,
        )
        for slot in bookable[:2]
    ]
    office.hours.all().delete()
    for r in second:
        OpeningHours.objects.create(
            office=office, weekday=r.weekday, opens=r.opens, closes=r.closes, capacity=r.capacity
        )
    office.slot_minutes = minutes
    office.save()
    generate_slots(office=office, now=NOW)
    open_slots = sorted(Slot.objects.filter(office=office, capacity__gt=0), key=lambda s: s.starts_at)
    for earlier, later in itertools.pairwise(open_slots):
        assert earlier.ends_at <= later.starts_at
    for slot in open_slots:
        if not slot.appointments.exists():
            local = slot.local_start()
            assert any(r.weekday == local.weekday() and r.opens <= local.time() < r.closes for r in second), local
    for appointment in booked:
        appointment.refresh_from_db()
        assert appointment.status == "booked"
        assert Slot.objects.filter(pk=appointment.slot_id).exists()
