"""The one limit both kinds of request share: requests for scarce places (a lottery request, a
waitlist entry) per client address, FAIR_REQUEST_RATE, counted in Redis. It fails closed: without
a count, made-up requests could flood a draw or a list (core/limits.py)."""

import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode
from appointments.views.common import over_limit_message
from core.limits import over_limit


def too_many_requests(request: HttpRequest) -> int | None:
    """None when this request may go on; else the seconds until it may be sent again, with the
    message to show on the form (kept as typed)."""
    wait = over_limit(request, group="allocation.request", rate=settings.FAIR_REQUEST_RATE, fail_closed=True)
    if wait is None:
        return None
    error = BookingError(
        _("Too many requests for places were sent from this connection. What you typed is kept on this page."),
        code=ErrorCode.LIMIT,
        retry_at=timezone.now() + datetime.timedelta(seconds=wait),
    )
    return over_limit_message(request, error)
