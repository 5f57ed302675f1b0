"""Closures that rebook: the appointments a closure leaves behind are moved to the nearest free
time (or cancelled) in bulk, each person told once, safe to run twice, with a summary."""

import datetime
import subprocess

import pytest
from django.utils import timezone

from appointments.models import Appointment, Closure, ClosureRun, Slot
from appointments.services.booking import book_appointment
from appointments.services.closures import run_closure, start_run
from appointments.services.slots import generate_slots
from appointments.tasks import handle_closure
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR
from notifications.models import Notification
from tests.appointments.conftest import OfficeFactory, details, key, make_screening
from tests.appointments.test_admin import user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_day(published):
    """An office (one place a slot) with three people booked on a day that is then closed."""
    now = timezone.now()
    office = OfficeFactory(hours=[(d, datetime.time(8), datetime.time(12), 1) for d in range(7)])
    generate_slots(office=office, now=now)
    day = office.local_today(now) + datetime.timedelta(days=4)
    slots = [s for s in Slot.objects.filter(office=office).order_by("starts_at") if s.local_start().date() == day]
    people = [
        book_appointment(
            screening=make_screening(published),
            slot_id=slot.pk,
            details=details(document_number=f"CLOSE{n}", email=f"p{n}@example.org"),
            booking_key=key(),
        )
        for n, slot in enumerate(slots[:3])
    ]
    closure = Closure.objects.create(office=office, starts_on=day, ends_on=day, reason="Flood")
    generate_slots(office=office, now=now)  # as the admin does on saving a closure
    _, supervisor = user_in(ROLE_SUPERVISOR, "boss")
    return office, closure, people, supervisor


def test_moving_puts_each_person_in_the_nearest_free_time_and_tells_them_once(
    closed_day, django_capture_on_commit_callbacks
):
    office, closure, people, supervisor = closed_day
    with django_capture_on_commit_callbacks(execute=False):
        run = start_run(closure=closure, action="move", actor=supervisor, office_ids=[office.pk])
    assert (run.status, run.total) == ("queued", 3)
    done = run_closure(run_id=run.pk)
    assert (done.status, done.total, done.done, done.moved, done.unplaced) == ("done", 3, 3, 3, [])
    day = closure.starts_on
    for person in people:
        moved = Appointment.objects.select_related("slot").get(pk=person.pk)
        assert moved.status == "booked"
        assert moved.slot.local_start().date() != day
        # The nearest free time: no free slot of the office is closer to the old time.
        distance = abs(moved.slot.starts_at - person.slot.starts_at)
        closer = Slot.objects.filter(
            office=office,
            capacity__gt=0,
            starts_at__gt=person.slot.starts_at - distance,
            starts_at__lt=person.slot.starts_at + distance,
        ).exclude(pk=moved.slot_id)
        assert all(slot.taken >= slot.capacity for slot in closer)
        event = moved.events.last()
        assert (event.action, event.actor, event.data["closure"]) == ("moved", supervisor, closure.pk)
        assert Notification.objects.filter(appointment=moved, kind="moved").count() == 2  # SMS and e-mail
    assert run_closure(run_id=run.pk) is None  # a second delivery of the task does nothing
    again = start_run(closure=closure, action="move", actor=supervisor, office_ids=[office.pk])
    assert run_closure(run_id=again.pk).total == 0  # nothing left in the closed day
    assert Notification.objects.filter(kind="moved").count() == 6
    for slot in Slot.objects.filter(office=office):
        assert slot.taken <= slot.capacity + slot.stranded
        assert slot.appointments.filter(status="booked").count() <= max(slot.capacity, slot.stranded)


def test_people_who_cannot_be_placed_are_listed(closed_day):
    office, closure, people, supervisor = closed_day
    Slot.objects.filter(office=office).exclude(pk__in=[p.slot_id for p in people]).update(capacity=0)
    run = start_run(closure=closure, action="move", actor=supervisor, office_ids=[office.pk])
    done = run_closure(run_id=run.pk)
    assert done.moved == 0
    assert sorted(done.unplaced) == sorted(p.display_reference for p in people)
    assert set(Appointment.objects.values_list("status", flat=True)) == {"booked"}


def test_cancelling_tells_each_person_how_to_book_again(closed_day):
    office, closure, _people, supervisor = closed_day
    run = start_run(closure=closure, action="cancel", actor=supervisor, office_ids=[office.pk])
    done = run_closure(run_id=run.pk)
    assert (done.cancelled, done.moved) == (3, 0)
    assert set(Appointment.objects.values_list("status", flat=True)) == {"cancelled"}
    assert Notification.objects.filter(kind="cancelled", channel="sms").count() == 3


def test_a_run_leaves_offices_the_user_cannot_see(closed_day, published):
    _office, closure, _people, supervisor = closed_day
    run = start_run(closure=closure, action="cancel", actor=supervisor, office_ids=[])
    assert run_closure(run_id=run.pk).total == 0
    assert set(Appointment.objects.values_list("status", flat=True)) == {"booked"}


def test_the_admin_offers_both_actions_and_shows_the_summary(closed_day):
    office, closure, _people, _ = closed_day
    client, user = user_in(ROLE_SUPERVISOR, "chief")
    page = client.get(f"/admin/appointments/closure/{closure.pk}/change/").content.decode()
    assert 'value="move_left"' in page
    assert 'value="cancel_left"' in page
    response = client.post(
        "/admin/appointments/closure/", {"action": "move_left", "_selected_action": [closure.pk]}, follow=True
    )
    assert "3 appointments to handle" in response.content.decode()
    run = ClosureRun.objects.get()
    assert (run.actor, run.action, run.office_ids) == (user, "move", [office.pk])
    assert office.events.filter(action="closure_move").exists()
    run_closure(run_id=run.pk)
    page = client.get(f"/admin/appointments/closure/{closure.pk}/change/").content.decode()
    assert "3/3" in page
    staff, staff_user = user_in(ROLE_OFFICE_STAFF, "counter")
    office.staff.add(staff_user)
    page = staff.get(f"/admin/appointments/closure/{closure.pk}/change/").content.decode()
    assert 'value="move_left"' not in page  # staff see closures, supervisors handle them


@pytest.mark.django_db(transaction=True)
def test_the_run_goes_through_a_real_worker(closed_day, celery_worker: subprocess.Popen):
    office, closure, _people, supervisor = closed_day
    run = start_run(closure=closure, action="move", actor=supervisor, office_ids=[office.pk])
    assert handle_closure.delay(run.pk).get(timeout=60) in (
        {"moved": 3, "cancelled": 0, "unplaced": 0},
        None,  # the on-commit delivery got there first
    )
    run.refresh_from_db()
    assert (run.status, run.moved) == ("done", 3)


def test_an_appointment_whose_time_has_come_is_left_as_it_is_and_listed(closed_day):
    office, closure, people, supervisor = closed_day
    run = start_run(closure=closure, action="cancel", actor=supervisor, office_ids=[office.pk])
    started = people[0].slot.starts_at + datetime.timedelta(minutes=1)  # the first one has begun
    done = run_closure(run_id=run.pk, now=started)
    assert (done.cancelled, done.skipped, done.unplaced) == (2, [people[0].display_reference], [])
    assert Appointment.objects.get(pk=people[0].pk).status == "booked"
