"""The one limit both kinds of request share: requests for scarce places (a lottery request, a
waitlist entry) per client address, FAIR_REQUEST_RATE, counted in Redis. It fails closed: without
a count, made-up requests could flood a draw or a list (core/limits.py).

It counts each details form sent, not each request made: at an office that verifies phones
sending the form sends a code by SMS, and that is what a bot would repeat (to any number), while
entering the code is limited by the code's own tries. Staff of the office acting on a person's
behalf are not counted (a desk computer or a call centre serves everyone), as for holds."""

import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode
from appointments.models import Office
from appointments.views.booking import staff_of
from appointments.views.common import over_limit_message
from core.limits import over_limit


def too_many_requests(request: HttpRequest, office: Office) -> int | None:
    """None when this request may go on; else the seconds until it may be sent again, with the
    message to show on the form (kept as typed)."""
    if staff_of(request, office) is not None:
        return None
    wait = over_limit(request, group="allocation.request", rate=settings.FAIR_REQUEST_RATE, fail_closed=True)
    if wait is None:
        return None
    error = BookingError(
        _("Too many requests for places were sent from this connection. What you typed is kept on this page."),
        code=ErrorCode.LIMIT,
        retry_at=timezone.now() + datetime.timedelta(seconds=wait),
    )
    return over_limit_message(request, error)
