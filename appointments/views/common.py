"""What the booking and manage pages share: the session's state, the refusal pages, and how a
session comes to see an appointment.

What the applicant has typed lives in the session, never in a URL. The appointment a session may see
is kept in the session too, after a booking, a lookup or a signed link."""

import datetime
import math
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from appointments import selectors
from appointments.errors import BookingError
from appointments.links import invalid_link_error
from appointments.models import Appointment, Office
from core.limits import UNCOUNTED_RETRY_SECONDS, client_key, over_limit, refused, try_again
from eligibility.views import forget_reasons

BOOKING = "booking"
# Where the booking start sends staff back to (set by the desk's walk-in page; a local path).
DESK_RETURN = "desk-return"
MANAGE = "manage"
MOVE = "move"
GET_POST = require_http_methods(["GET", "HEAD", "POST"])


def problem(request: HttpRequest, message: str, *, status: int = 400, restart: bool = False) -> HttpResponse:
    return render(request, "appointments/problem.html", {"message": message, "restart": restart}, status=status)


# The busy page's Retry-After: a lock waited BOOKING_LOCK_TIMEOUT_MS, nothing changed, try again.
BUSY_RETRY_SECONDS = 5


def busy(request: HttpRequest, error: BookingError) -> HttpResponse:
    response = render(request, "appointments/busy.html", {"message": error.message}, status=429)
    response["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


def session_state(request: HttpRequest, key: str) -> dict[str, Any]:
    value = request.session.get(key)
    return value if isinstance(value, dict) else {}


def save_state(request: HttpRequest, name: str, **values: Any) -> None:
    request.session[name] = {**session_state(request, name), **values}


def parse_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# Set when this browser has just booked the appointment: its page then opens with the confirmation.
JUST_BOOKED = "just_booked"


def show_booked(request: HttpRequest, appointment: Appointment) -> HttpResponseRedirect:
    """A booking just made in this session, on its page, which says so."""
    request.session[JUST_BOOKED] = appointment.pk
    return show_appointment(request, appointment)


def show_appointment(request: HttpRequest, appointment: Appointment, *, by_link: bool = False) -> HttpResponseRedirect:
    """Let this session see the appointment, and go to its page.

    The session gets a new key (whoever learnt the old one, from a shared phone or a planted
    cookie, sees nothing) and ends after MANAGE_SESSION_IDLE_MINUTES without a manage page; the
    pages check that time themselves too (`opened_appointment`). A session opened by a signed link
    keeps the revision it was opened at: a change made elsewhere voids it as it voids the link.
    The screening's result this session keeps loses its reasons, as the screening did at booking
    (`eligibility.views.forget_reasons`), whichever page opens the appointment: a second press that
    lost the race to book carries the session as it was read before the first one saved it."""
    forget_reasons(request, appointment.screening_id)
    request.session.cycle_key()
    request.session[MANAGE] = {
        "id": appointment.pk,
        "revision": appointment.revision,
        "by_link": by_link,
        "seen": int(timezone.now().timestamp()),
    }
    request.session.pop(MOVE, None)
    request.session.set_expiry(settings.MANAGE_SESSION_IDLE_MINUTES * 60)
    return redirect("appointments:appointment")


def used_offer_link(request: HttpRequest, appointment_id: int | None, message: str) -> HttpResponse:
    """A POST with a lottery or waitlist offer's link that has booked its place already. The
    browser that booked it goes to the appointment's page again (a button pressed twice); any
    other gets a 410 and nothing of the appointment, whose page is reached from its own
    confirmation SMS: a link forwarded or left on a shared phone opens nothing once used."""
    if appointment_id is not None and session_state(request, MANAGE).get("id") == appointment_id:
        return redirect("appointments:appointment")
    return problem(request, message, status=410)


def opened_appointment(request: HttpRequest) -> Appointment | None:
    """The appointment this session may see, or None with a message that says why (nothing opened,
    closed after being left idle, or opened by a link that a change has voided). Each call counts
    as activity."""
    state = session_state(request, MANAGE)
    now = int(timezone.now().timestamp())
    seen = state.get("seen")
    if state.get("id") and not (isinstance(seen, int) and now - seen <= settings.MANAGE_SESSION_IDLE_MINUTES * 60):
        request.session.pop(MANAGE, None)
        messages.info(
            request,
            _(
                "For your safety, your appointment was closed on this device after %(minutes)s minutes without "
                "activity. Enter your reference and date of birth to see it again."
            )
            % {"minutes": settings.MANAGE_SESSION_IDLE_MINUTES},
        )
        return None
    appointment = None
    if state.get("id"):
        # An appointment whose personal data is erased cannot be opened again.
        found = Appointment.objects.select_related("slot__office", "screening").filter(erased_at__isnull=True)
        appointment = found.filter(pk=state["id"]).first()
    if appointment is None:
        request.session.pop(MANAGE, None)
        messages.info(request, _("Enter your reference and date of birth to see your appointment."))
        return None
    if state.get("by_link") and appointment.revision != state.get("revision"):
        request.session.pop(MANAGE, None)
        messages.error(request, invalid_link_error().message)
        return None
    request.session[MANAGE] = {**state, "seen": now}  # saved, so the session's idle time starts again
    return appointment


def changed_here(request: HttpRequest, appointment: Appointment) -> None:
    """This session changed the appointment itself (cancelled or moved it): it keeps seeing it."""
    request.session[MANAGE] = {**session_state(request, MANAGE), "revision": appointment.revision}


def too_many_holds(request: HttpRequest) -> int | None:
    """Seconds to wait when this address chose too many times lately (HOLD_RATE), else None."""
    # Places are scarce: without Redis to count, no hold (fails closed).
    return over_limit(request, group="appointments.hold", rate=settings.HOLD_RATE, fail_closed=True)


def too_many(request: HttpRequest, seconds: int | None = None) -> HttpResponse:
    if seconds is None:
        return problem(
            request, _("Too many attempts from this connection. Please wait a few minutes and try again."), status=429
        )
    message = f"{_('Too many attempts from this connection.')} {try_again(seconds)}"
    return refused(problem(request, message, status=429), seconds)


def address_of(request: HttpRequest, staff: Any) -> str:
    """What the live-hold cap counts a hold against: the client's address (keyed hash), none for
    staff booking on a person's behalf (a desk computer serves everyone)."""
    return "" if staff is not None else client_key(request)


def over_limit_message(request: HttpRequest, error: Any, *, zone: Any = None) -> int:
    """Say on the page about to be shown again (what was typed still in it) that a limit refused
    the request (a BookingError or a PhoneCodeError: its message and retry_at) and when to try
    again; returns the seconds until then (for Retry-After)."""
    now = timezone.now()
    retry_at = error.retry_at or now + datetime.timedelta(seconds=UNCOUNTED_RETRY_SECONDS)
    seconds = max(1, math.ceil((retry_at - now).total_seconds()))
    if seconds > 3600 and zone is not None:
        with timezone.override(zone):
            local = timezone.localtime(retry_at)
            when = _("You can try again from %(day)s at %(time)s.") % {
                "day": date_format(local, "DATE_FORMAT"),
                "time": time_format(local, "H:i"),
            }
    else:
        when = try_again(seconds, at=retry_at, zone=zone)
    messages.error(request, f"{error.message} {when}")
    return seconds


def with_urls(days: list[selectors.Day], url: Callable[[selectors.Day], str]) -> list[selectors.Day]:
    for day in days:
        day.url = url(day)
    return days


def day_or_redirect(
    request: HttpRequest, office: Office, date: datetime.date, days_url: str, *, times: Any = None
) -> Any:
    """The day's times (`times`, when read already with the office), or a redirect to the days."""
    # Showing the times may use the cached copy; a choice is checked against the database.
    read = selectors.bookable_day if request.method == "POST" else selectors.times_of_day
    day = times if times is not None else read(office, date, timezone.now())
    if day is None or day.closed or not any(slot.places_left for slot in day.slots):
        messages.error(request, _("There are no free times on that day any more. Please choose another day."))
        return redirect(days_url)
    return day
