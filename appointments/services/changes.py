"""Changes to a booked appointment: cancelling and moving, by the applicant or by staff."""

import datetime
import logging
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode
from appointments.lifecycle import Transition
from appointments.models import Appointment, AppointmentEvent, Hold
from appointments.services import lifecycle, places
from appointments.services.booking import check_slot_bookable
from appointments.services.places import bounded_lock_waits
from appointments.signals import freed_on_commit
from notifications.models import Notification
from notifications.services import cancel_reminders, notify, schedule_reminders_for

logger = logging.getLogger(__name__)
By = AppointmentEvent.By


def _lock_booked(appointment_id: int, expected_revision: int | None, now: datetime.datetime) -> Appointment:
    appointment = lifecycle.lock_appointment(appointment_id)
    if appointment is None or (expected_revision is not None and appointment.revision != expected_revision):
        raise BookingError(
            _("This appointment was changed in the meantime. Here is how it stands now."), code=ErrorCode.STALE
        )
    if appointment.status == Appointment.Status.CANCELLED:
        raise BookingError(_("This appointment was cancelled and cannot be changed."), code=ErrorCode.STALE)
    if appointment.status != Appointment.Status.BOOKED or appointment.slot.starts_at <= now:
        raise BookingError(_("This appointment has already taken place and cannot be changed."), code=ErrorCode.STALE)
    return appointment


def cancel_appointment(
    *,
    appointment_id: int,
    expected_revision: int | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
    **data: Any,
) -> Appointment:
    """Cancel the appointment and give its place back. `expected_revision` refuses the change when
    the appointment changed since the page that asked for it was shown. `actor` is the staff member
    who cancelled it (None: the applicant)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _lock_booked(appointment_id, expected_revision, now)
        places.lock_slots(appointment.slot_id)
        appointment.cancelled_at = now
        lifecycle.change_status(
            appointment, Transition.CANCEL, actor=actor, now=now, update_fields=("cancelled_at",), **data
        )
        places.release_place(appointment.slot_id)
        freed_on_commit(office_id=appointment.office_id, slot_id=appointment.slot_id)
        cancel_reminders(appointment=appointment)
        notify(appointment=appointment, kind=Notification.Kind.CANCELLED, now=now)
        return appointment


def move_appointment(
    *,
    appointment_id: int,
    slot_id: int,
    expected_revision: int | None = None,
    hold: uuid.UUID | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
    **data: Any,
) -> Appointment:
    """Move the appointment to another time at the same office: the new place is taken and the old
    one given back in one transaction, under the same rules as a new booking."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _lock_booked(appointment_id, expected_revision, now)
        if slot_id == appointment.slot_id:
            raise BookingError(_("This is already the time of your appointment."), code=ErrorCode.UNAVAILABLE)
        slots = places.lock_slots(appointment.slot_id, slot_id)
        slot = slots[slot_id]
        if slot.office_id != appointment.office_id:
            raise BookingError(_("An appointment can only be moved within its office."), code=ErrorCode.UNAVAILABLE)
        check_slot_bookable(slot, screening=appointment.screening, now=now)
        if hold is None or not Hold.objects.filter(token=hold, slot=slot, expires_at__gt=now).delete()[0]:
            places.purge_expired_in(slot, now)
            places.take_place(slot)
        places.release_place(appointment.slot_id)
        freed_on_commit(office_id=appointment.office_id, slot_id=appointment.slot_id)
        previous = appointment.slot_id
        appointment.slot = slot
        lifecycle.change_status(
            appointment,
            Transition.MOVE,
            actor=actor,
            now=now,
            update_fields=("slot",),
            **{"from": previous, "to": slot.pk, **data},
        )
        cancel_reminders(appointment=appointment)
        notify(appointment=appointment, kind=Notification.Kind.MOVED, now=now)
        schedule_reminders_for(appointment=appointment, now=now)
        return appointment


DID_NOT_COME = "did_not_come"
OFFICE_CLOSED = "office_closed"


def end_missed_appointment(appointment: Appointment, *, now: datetime.datetime) -> str:
    """A booked appointment whose day is over, locked by the caller: a no-show, or, when its slot
    was closed (a closure, or hours that no longer include it), cancelled by the system, since
    nobody could have come. Returns which."""
    if appointment.slot.capacity > 0:
        lifecycle.change_status(appointment, Transition.NO_SHOW, by=By.SYSTEM, now=now, reason=DID_NOT_COME)
        return DID_NOT_COME
    places.lock_slots(appointment.slot_id)
    appointment.cancelled_at = now
    lifecycle.change_status(
        appointment, Transition.CANCEL, by=By.SYSTEM, now=now, update_fields=("cancelled_at",), reason=OFFICE_CLOSED
    )
    places.release_place(appointment.slot_id)
    cancel_reminders(appointment=appointment)
    return OFFICE_CLOSED
