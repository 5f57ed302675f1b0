"""The appointment's audit trail."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from appointments.models import Appointment, AppointmentEvent


def log_event(appointment: Appointment, action: str, actor: AbstractBaseUser | None = None, **data: Any) -> None:
    AppointmentEvent.objects.create(appointment=appointment, action=action, actor=actor, data=data)
