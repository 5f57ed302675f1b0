"""Signed manage links: short enough for an SMS, void once the appointment changes."""

import base64

from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode
from appointments.models import Appointment
from core.text import is_ascii_digits

MANAGE_SALT = "appointments.manage-link"
MANAGE_MAC_LENGTH = 16  # base32 characters: 80 bits


def _token_mac(appointment_id: int, revision: int) -> str:
    digest = salted_hmac(MANAGE_SALT, f"{appointment_id}-{revision}", algorithm="sha256").digest()
    return base64.b32encode(digest).decode()[:MANAGE_MAC_LENGTH].lower()


def manage_token(appointment: Appointment) -> str:
    """The signed part of a manage link: the appointment, its revision (so the link stops working
    once the appointment is moved or cancelled) and an HMAC. Short enough for an SMS."""
    return f"{appointment.pk}-{appointment.revision}-{_token_mac(appointment.pk, appointment.revision)}"


def invalid_link_error() -> BookingError:
    return BookingError(
        _(
            "This link is no longer valid: the appointment was changed or cancelled after it was sent. "
            "Use the link in your latest message, or your reference and date of birth."
        ),
        code=ErrorCode.STALE,
    )


def signed_parts(token: str) -> tuple[int, int] | None:
    """The appointment id and revision a token was signed for, or None when its HMAC is not
    right. Reads nothing from the database: a made-up link learns nothing about appointments."""
    parts = token.split("-")
    if len(parts) != 3 or not all(map(is_ascii_digits, parts[:2])) or len(parts[0]) > 18 or len(parts[1]) > 9:
        return None
    appointment_id, revision = int(parts[0]), int(parts[1])
    if not constant_time_compare(parts[2], _token_mac(appointment_id, revision)):
        return None
    return appointment_id, revision


def appointment_from_token(token: str) -> Appointment:
    signed = signed_parts(token)
    if signed is None:
        raise invalid_link_error()
    appointment_id, revision = signed
    appointment = Appointment.objects.filter(pk=appointment_id, revision=revision).first()
    if appointment is None or appointment.status != Appointment.Status.BOOKED:
        raise invalid_link_error()
    return appointment
