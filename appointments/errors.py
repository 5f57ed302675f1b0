"""The one exception of the booking area, and its codes."""

import datetime
from enum import StrEnum

from django.utils.translation import gettext as _


class ErrorCode(StrEnum):
    """What the page that caught the error offers next."""

    INVALID = "invalid"  # correct what was typed
    FULL = "full"  # choose another time
    UNAVAILABLE = "unavailable"  # choose another time
    BUSY = "busy"  # try again in a moment (HTTP 429)
    DUPLICATE = "duplicate"  # manage the existing appointment
    STALE = "stale"  # reload the appointment as it stands now
    SCREENING = "screening"  # answer the questions again
    NOT_ALLOWED = "not_allowed"  # this change is not allowed from the appointment's status
    WRONG_PLACE = "wrong_place"  # another office, or another day
    NOT_NOW = "not_now"  # outside the check-in window
    LIMIT = "limit"  # over a limit (core.limits): try again at `retry_at` (HTTP 429)


class BookingError(Exception):
    """A booking action that cannot be done; the message is translated and safe to show, and the
    code (an ErrorCode) tells the caller what to offer next."""

    def __init__(
        self, message: str, *, code: ErrorCode = ErrorCode.INVALID, retry_at: datetime.datetime | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # ErrorCode.LIMIT: when the limit lets the same request through again.
        self.retry_at = retry_at


def busy_error() -> BookingError:
    return BookingError(
        _("Many people are booking right now. Nothing was changed: please try again in a moment."), code=ErrorCode.BUSY
    )


def duplicate_error() -> BookingError:
    return BookingError(
        _(
            "There is already an appointment for this identity document. Each person can have one "
            "appointment at a time: to see, move or cancel it, use “Manage an appointment” with its "
            "reference and your date of birth."
        ),
        code=ErrorCode.DUPLICATE,
    )
