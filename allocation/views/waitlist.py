"""The waitlist pages: join when an office's days are full (how many people → details → joined),
and the page of the SMS's link (the place on the list, or the place offered: take it, or not)."""

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from allocation import waitlist_services as services
from allocation.limits import too_many_requests
from allocation.models import WaitlistEntry
from allocation.waitlist_services import WaitlistError, WaitlistErrorCode
from appointments import selectors
from appointments.errors import BookingError
from appointments.forms import DetailsForm, PartySizeForm
from appointments.models import Office
from appointments.views.booking import ScreeningFacts, booking_view
from appointments.views.common import (
    BOOKING,
    GET_POST,
    JUST_BOOKED,
    busy,
    problem,
    save_state,
    session_state,
    show_appointment,
)
from core.limits import refused

# The session's waitlist state: the number of people chosen, and the entry joined (its page).
WAITLIST = "waitlist"
Status = WaitlistEntry.Status


def _office(screening: ScreeningFacts, slug: str) -> Office:
    office = selectors.office_for(screening, slug)
    if office is None:
        raise Http404
    return office


@GET_POST
@booking_view
def join(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    """First step: how many people would come."""
    chosen = _office(screening, office)
    state = session_state(request, WAITLIST)
    posted = request.POST if request.method == "POST" else None
    form = PartySizeForm(posted, office=chosen, initial={"party_size": state.get("people", 1)})
    if request.method == "POST" and form.is_valid():
        save_state(request, WAITLIST, office=chosen.slug, people=form.cleaned_data["party_size"])
        return redirect("allocation:waitlist-details", office=chosen.slug)
    return render(
        request,
        "allocation/waitlist/join.html",
        {
            "form": form,
            "office": chosen,
            "waiting": WaitlistEntry.objects.filter(office=chosen, status__in=[Status.WAITING, Status.OFFERED]).count(),
            "offer_minutes": settings.WAITLIST_OFFER_MINUTES,
            "valid_days": settings.SCREENING_VALID_DAYS,
            "back_url": reverse("appointments:choose-day", args=[chosen.slug]),
        },
        status=400 if form.errors else 200,
    )


@GET_POST
@booking_view
def details(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    """Second step: the details a booking needs (the booking's own form), then join."""
    chosen = _office(screening, office)
    state = session_state(request, WAITLIST)
    if state.get("office") != chosen.slug:
        return redirect("allocation:waitlist-join", office=chosen.slug)
    booking = session_state(request, BOOKING)
    known = booking.get("known") if isinstance(booking.get("known"), dict) else {}
    asking = request.GET.get("change") == "identity" or request.POST.get("identity") == "ask"
    people = state.get("people", 1)
    form = DetailsForm(
        request.POST if request.method == "POST" else None,
        office=chosen,
        day=chosen.local_today(timezone.now()),
        party_size=people,
        known={} if asking else known,
        initial={"party_size": people},
    )
    status = 400 if form.is_bound else 200
    wait = None
    if request.method == "POST" and form.is_valid() and (wait := too_many_requests(request)) is None:
        try:
            loaded = screening.load()
        except BookingError as exc:
            return problem(request, exc.message, restart=True)
        try:
            entry, _token = services.join_waitlist(office=chosen, screening=loaded, values=form.as_typed())
        except WaitlistError as exc:
            if exc.code == WaitlistErrorCode.SCREENING:
                return problem(request, exc.message, restart=True)
            if exc.code == WaitlistErrorCode.HAS_APPOINTMENT:
                return render(request, "appointments/duplicate.html", {"message": exc.message}, status=409)
            form.add_error("document_number", exc.message)
            status = 409 if exc.code == WaitlistErrorCode.ALREADY_WAITING else 400
        else:
            request.session[WAITLIST] = {"entry": entry.pk}
            return redirect("allocation:waitlist-joined")
    response = render(
        request,
        "allocation/waitlist/details.html",
        {
            "form": form,
            "office": chosen,
            "known": form.known,
            "back_url": reverse("allocation:waitlist-join", args=[chosen.slug]),
        },
        status=status,
    )
    return refused(response, wait) if wait is not None else response


def _joined_entry(request: HttpRequest) -> WaitlistEntry | None:
    entry_id = session_state(request, WAITLIST).get("entry")
    if not isinstance(entry_id, int):
        return None
    return WaitlistEntry.objects.select_related("office").filter(pk=entry_id).first()


@require_safe
@never_cache
def joined(request: HttpRequest) -> HttpResponse:
    """The confirmation: on the list, how many are ahead, what happens next, how to leave."""
    entry = _joined_entry(request)
    if entry is None or entry.status not in (Status.WAITING, Status.OFFERED):
        return problem(request, services.gone_message(), status=404)
    return render(request, "allocation/waitlist/place.html", _place_context(entry, token=None))


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    """Leave the list from the confirmation page (this browser joined it)."""
    entry = _joined_entry(request)
    if entry is None:
        return problem(request, services.gone_message(), status=404)
    return _leave(request, entry)


def _leave(request: HttpRequest, entry: WaitlistEntry) -> HttpResponse:
    try:
        services.leave_waitlist(entry_id=entry.pk)
    except WaitlistError as exc:
        return problem(request, exc.message, status=409)
    request.session.pop(WAITLIST, None)
    return render(request, "allocation/waitlist/ended.html", {"office": entry.office, "left": True})


def _place_context(entry: WaitlistEntry, *, token: str | None) -> dict[str, Any]:
    offered = entry.status == Status.OFFERED and entry.offer_expires_at > timezone.now()
    return {
        # Seen from the page after joining (no link): the offer is taken with the SMS's link.
        "offer_sent": offered and token is None,
        "entry": entry,
        "office": entry.office,
        "token": token,
        "offered": offered and token is not None,
        "waiting": entry.status == Status.WAITING,
        "ahead": services.position(entry) if entry.status == Status.WAITING else 0,
        "slot": entry.offer_slot if offered else None,
    }


@GET_POST
@never_cache
def place(request: HttpRequest, token: str) -> HttpResponse:
    """The page of the SMS's link: the place on the list (leave it), or the place offered (take
    it, or "No thanks"). A wrong or used link gets a 404 that says what to do."""
    entry = services.entry_for_token(token)
    if entry is None:
        return problem(request, services.gone_message(), status=404, restart=True)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "take":
                appointment = services.take_offer(entry_id=entry.pk)
                request.session[JUST_BOOKED] = appointment.pk
                return show_appointment(request, appointment)
            if action == "decline":
                services.decline_offer(entry_id=entry.pk)
                return render(request, "allocation/waitlist/ended.html", {"office": entry.office, "declined": True})
            if action == "leave":
                return _leave(request, entry)
        except WaitlistError as exc:
            if exc.code == WaitlistErrorCode.BUSY:
                return busy(request, exc)  # type: ignore[arg-type]
            return problem(request, exc.message, status=409)
        return problem(request, _("Please choose one of the buttons on the page."))
    expired = entry.status == Status.OFFERED and entry.offer_expires_at <= timezone.now()
    if entry.status not in (Status.WAITING, Status.OFFERED) or expired:
        return problem(request, services.gone_message(), status=410, restart=True)
    return render(request, "allocation/waitlist/place.html", _place_context(entry, token=token))


urlpatterns = [
    path("waitlist/join/<slug:office>/", join, name="waitlist-join"),
    path("waitlist/join/<slug:office>/details/", details, name="waitlist-details"),
    path("waitlist/joined/", joined, name="waitlist-joined"),
    path("waitlist/leave/", leave, name="waitlist-leave"),
    path("waitlist/place/<str:token>/", place, name="waitlist-place"),
]
