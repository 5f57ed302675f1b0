"""Every change of an appointment's status goes through `change_status`: it checks the table in
appointments/lifecycle.py, moves the status, counts the revision and writes the audit event, in
the caller's transaction, on a row the caller has locked."""

import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode
from appointments.lifecycle import Transition, allowed, next_status
from appointments.models import Appointment, AppointmentEvent, Office, OfficeEvent

By = AppointmentEvent.By


def log_event(
    appointment: Appointment,
    action: str,
    actor: AbstractBaseUser | None = None,
    *,
    by: str | None = None,
    at: datetime.datetime | None = None,
    **data: Any,
) -> AppointmentEvent:
    """One row of the audit trail. `by` defaults to staff when there is an actor, else applicant."""
    return AppointmentEvent.objects.create(
        appointment=appointment,
        action=action,
        actor=actor,
        by=by or (By.STAFF if actor is not None else By.APPLICANT),
        at=at or timezone.now(),
        data=data,
    )


def log_office_event(
    *, office: Office, action: str, actor: AbstractBaseUser | None, at: datetime.datetime | None = None, **data: Any
) -> OfficeEvent:
    """One row of an office's audit trail (its set-up, its desk, bulk actions on its appointments)."""
    return OfficeEvent.objects.create(office=office, action=action, actor=actor, at=at or timezone.now(), data=data)


def lock_appointment(appointment_id: int) -> Appointment | None:
    """The appointment's row, locked until the caller's transaction ends."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("slot", "office")
        .filter(pk=appointment_id)
        .first()
    )


def not_allowed_error(appointment: Appointment) -> BookingError:
    return BookingError(
        _("This cannot be done: the appointment %(reference)s is %(status)s.")
        % {"reference": appointment.display_reference, "status": appointment.get_status_display().lower()},
        code=ErrorCode.NOT_ALLOWED,
    )


def change_status(
    appointment: Appointment,
    transition: Transition,
    *,
    actor: AbstractBaseUser | None = None,
    by: str | None = None,
    now: datetime.datetime | None = None,
    update_fields: tuple[str, ...] = (),
    **data: Any,
) -> Appointment:
    """Apply the transition to a locked appointment, or raise BookingError (NOT_ALLOWED) and change
    nothing. `update_fields` names other fields the caller set and that are saved with it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("change_status must run inside the transaction that locked the appointment")
    by = by or (By.STAFF if actor is not None else By.APPLICANT)
    if not allowed(transition, status=appointment.status, by=by):
        raise not_allowed_error(appointment)
    appointment.status = next_status(transition, appointment.status)
    appointment.revision += 1
    appointment.save(update_fields=["status", "revision", "updated_at", *update_fields])
    log_event(appointment, str(transition), actor, by=by, at=now, **data)
    return appointment
