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

from allocation import phone_services
from allocation import waitlist_services as services
from allocation.limits import too_many_requests
from allocation.models import PendingRequest, WaitlistEntry
from allocation.views.phone import add_refusal, ask_for_code, code_page, needs_code, pending_of, typed_initial
from allocation.waitlist_services import WaitlistError, WaitlistErrorCode
from appointments import selectors
from appointments.errors import BookingError
from appointments.forms import DetailsForm, PartySizeForm
from appointments.models import Office
from appointments.views.booking import ScreeningFacts, booking_view
from appointments.views.common import (
    BOOKING,
    GET_POST,
    busy,
    problem,
    save_state,
    session_state,
    show_booked,
    used_offer_link,
)
from core.limits import refused
from eligibility.models import Screening

# The session's waitlist state: the number of people chosen, and the entry joined (its page).
WAITLIST = "waitlist"
Status = WaitlistEntry.Status


def _office(screening: ScreeningFacts, slug: str) -> Office:
    office = selectors.office_for(screening, slug)
    # A lottery office has no waitlist: its places go by its draw (allocation:lottery), and the
    # waitlist's upkeep would otherwise hand its free places out in join order.
    if office is None or office.allocation != Office.Allocation.FIRST_COME:
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
    """Second step: the details a booking needs (the booking's own form), then join (at an office
    that verifies phones, once the code sent by SMS is entered)."""
    chosen = _office(screening, office)
    state = session_state(request, WAITLIST)
    if state.get("office") != chosen.slug:
        return redirect("allocation:waitlist-join", office=chosen.slug)
    form = _details_form(request, chosen, request.POST if request.method == "POST" else None)
    status = 400 if form.is_bound else 200
    wait = None
    if request.method == "POST" and form.is_valid() and (wait := too_many_requests(request, chosen)) is None:
        try:
            loaded = screening.load()
        except BookingError as exc:
            return problem(request, exc.message, restart=True)
        values = form.as_typed()
        try:
            if not needs_code(request, chosen):
                return _join(request, chosen, loaded, values)
            services.check_join(office=chosen, screening=loaded, values=values)
        except WaitlistError as exc:
            answer = _join_refused(request, exc, form)
            if isinstance(answer, HttpResponse):
                return answer
            status = answer
        else:
            return ask_for_code(
                request,
                state_key=WAITLIST,
                kind=PendingRequest.Kind.WAITLIST,
                office=chosen,
                draw=None,
                screening_id=loaded.pk,
                values=values,
                form=form,
                code_url=reverse("allocation:waitlist-code", args=[chosen.slug]),
                make=lambda pending: _join_pending(request, chosen, pending, form),
                form_page=lambda code_status: _details_page(request, chosen, form, code_status),
            )
    response = _details_page(request, chosen, form, status)
    return refused(response, wait) if wait is not None else response


def _details_form(request: HttpRequest, office: Office, data: Any) -> DetailsForm:
    """The details form: posted, or filled in with what was typed before the code."""
    booking = session_state(request, BOOKING)
    known = booking.get("known") if isinstance(booking.get("known"), dict) else {}
    asking = request.GET.get("change") == "identity" or request.POST.get("identity") == "ask"
    people = session_state(request, WAITLIST).get("people", 1)
    pending = pending_of(request, WAITLIST, kind=PendingRequest.Kind.WAITLIST, office=office)
    return DetailsForm(
        data,
        office=office,
        day=office.local_today(timezone.now()),
        party_size=people,
        known={} if asking else known,
        initial={**typed_initial(pending), "party_size": people},
    )


def _details_page(request: HttpRequest, office: Office, form: DetailsForm, status: int) -> HttpResponse:
    return render(
        request,
        "allocation/waitlist/details.html",
        {
            "form": form,
            "office": office,
            "known": form.known,
            "back_url": reverse("allocation:waitlist-join", args=[office.slug]),
            "code_next": needs_code(request, office),
        },
        status=status,
    )


def _join(request: HttpRequest, office: Office, screening: Screening, values: dict[str, Any]) -> HttpResponse:
    """Join the list (raises WaitlistError); this browser's page of the entry next."""
    entry, _token = services.join_waitlist(office=office, screening=screening, values=values)
    request.session[WAITLIST] = {"entry": entry.pk}
    return redirect("allocation:waitlist-joined")


def _join_refused(request: HttpRequest, error: WaitlistError, form: DetailsForm) -> HttpResponse | int:
    """A join refused: the page that says so, or the status of the details page again with the
    message at the document number."""
    if error.code == WaitlistErrorCode.SCREENING:
        return problem(request, error.message, restart=True)
    if error.code == WaitlistErrorCode.HAS_APPOINTMENT:
        return render(request, "appointments/duplicate.html", {"message": error.message}, status=409)
    if error.code == WaitlistErrorCode.PHONE_LIMIT:
        add_refusal(form, "phone", error.message)
        return 409
    add_refusal(form, "document_number", error.message)
    return 409 if error.code == WaitlistErrorCode.ALREADY_WAITING else 400


def _join_pending(request: HttpRequest, office: Office, pending: PendingRequest, form: DetailsForm) -> HttpResponse:
    """The code was entered: join with what waited for it, which then goes."""
    try:
        response = _join(request, office, pending.screening, pending.details)
    except WaitlistError as exc:
        answer = _join_refused(request, exc, form)
        return answer if isinstance(answer, HttpResponse) else _details_page(request, office, form, answer)
    phone_services.forget(pending)
    return response


@GET_POST
@booking_view
def code(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    """The code sent by SMS at an office that verifies phones: the entry is made when it is entered."""
    chosen = _office(screening, office)
    return code_page(
        request,
        pending=pending_of(request, WAITLIST, kind=PendingRequest.Kind.WAITLIST, office=chosen),
        office=chosen,
        details_url=reverse("allocation:waitlist-details", args=[chosen.slug]),
        code_url=reverse("allocation:waitlist-code", args=[chosen.slug]),
        made=lambda: _joined_here(request, chosen),
        make=lambda pending: _join_pending(request, chosen, pending, _details_form(request, chosen, None)),
        context={"kind": "waitlist"},
    )


def _joined_here(request: HttpRequest, office: Office) -> HttpResponse | None:
    entry = _joined_entry(request)
    return redirect("allocation:waitlist-joined") if entry is not None and entry.office_id == office.pk else None


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
    if request.method == "POST" and entry.status == Status.BOOKED:
        return used_offer_link(request, entry.appointment_id, services.gone_message())
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "take":
                appointment = services.take_offer(entry_id=entry.pk)
                return show_booked(request, appointment)
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
    path("waitlist/join/<slug:office>/code/", code, name="waitlist-code"),
    path("waitlist/joined/", joined, name="waitlist-joined"),
    path("waitlist/leave/", leave, name="waitlist-leave"),
    path("waitlist/place/<str:token>/", place, name="waitlist-place"),
]
