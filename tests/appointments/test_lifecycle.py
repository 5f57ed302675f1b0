"""The appointment's lifecycle: one table says which change is allowed from which status and by
whom; the service enforces it, counts the revision and writes the event; the database refuses
unknown statuses."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from appointments.errors import BookingError
from appointments.lifecycle import TRANSITIONS, Transition, allowed
from appointments.models import Appointment, AppointmentEvent
from appointments.services.lifecycle import change_status, lock_appointment
from tests.appointments.conftest import NOW
from tests.appointments.test_booking import book, first_slot

pytestmark = pytest.mark.django_db
Status, By = Appointment.Status, AppointmentEvent.By

# What the desk and the applicant may do, written out by hand: the table must say exactly this.
EXPECTED = {
    (Transition.MOVE, Status.BOOKED, By.APPLICANT),
    (Transition.MOVE, Status.BOOKED, By.STAFF),
    (Transition.CANCEL, Status.BOOKED, By.APPLICANT),
    (Transition.CANCEL, Status.BOOKED, By.STAFF),
    (Transition.CANCEL, Status.BOOKED, By.SYSTEM),
    (Transition.CHECK_IN, Status.BOOKED, By.STAFF),
    (Transition.CALL, Status.CHECKED_IN, By.STAFF),
    (Transition.RECALL, Status.CALLED, By.STAFF),
    (Transition.REQUEUE, Status.CALLED, By.STAFF),
    (Transition.SERVE, Status.CHECKED_IN, By.STAFF),
    (Transition.SERVE, Status.CALLED, By.STAFF),
    (Transition.NO_SHOW, Status.BOOKED, By.STAFF),
    (Transition.NO_SHOW, Status.CHECKED_IN, By.STAFF),
    (Transition.NO_SHOW, Status.CALLED, By.STAFF),
    (Transition.NO_SHOW, Status.BOOKED, By.SYSTEM),
    (Transition.NO_SHOW, Status.CHECKED_IN, By.SYSTEM),
    (Transition.NO_SHOW, Status.CALLED, By.SYSTEM),
}
EVERY = list(itertools.product(Transition, Status, By))


def test_the_table_allows_exactly_the_expected_changes():
    assert {case for case in EVERY if allowed(case[0], status=case[1], by=case[2])} == EXPECTED


def test_nothing_leaves_a_final_status():
    for final in (Status.SERVED, Status.NO_SHOW, Status.CANCELLED):
        assert not any(final in rule.sources for rule in TRANSITIONS.values())


@pytest.mark.parametrize(("transition", "status", "by"), EVERY)
def test_the_service_follows_the_table(office, screening, transition, status, by):
    appointment = book(screening, first_slot(office))
    Appointment.objects.filter(pk=appointment.pk).update(status=status)
    staff = get_user_model().objects.create_user("desk") if by == By.STAFF else None
    with transaction.atomic():
        locked = lock_appointment(appointment.pk)
        refused = None
        try:
            change_status(locked, transition, actor=staff, by=by, now=NOW, note="test")
        except BookingError as exc:
            refused = exc.code
    changed = refused is None
    assert refused in {None, "not_allowed"}
    assert changed == ((transition, status, by) in EXPECTED)
    after = Appointment.objects.get(pk=appointment.pk)
    last = after.events.last()
    if changed:
        assert after.revision == appointment.revision + 1
        assert after.status == (TRANSITIONS[transition].target or status)
        assert (last.action, last.by, last.actor, last.at, last.data) == (transition, by, staff, NOW, {"note": "test"})
    else:
        assert (after.status, after.revision) == (status, appointment.revision)
        assert last.action == "booked"


@pytest.mark.django_db(transaction=True)
def test_change_status_needs_the_locking_transaction(office, screening):
    appointment = book(screening, first_slot(office))
    with pytest.raises(RuntimeError):
        change_status(appointment, Transition.CHECK_IN, by=By.STAFF)


@pytest.mark.parametrize("status", ["past", "waiting", ""])
def test_the_database_refuses_an_unknown_status(office, screening, status):
    appointment = book(screening, first_slot(office))
    with pytest.raises(IntegrityError, match="appointments_status_valid"), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(status=status)
