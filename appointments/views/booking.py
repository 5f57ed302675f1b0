"""Booking pages: /book/?screening=<signed reference> → office → day → time (holds a place) →
details; then check your answers, confirm and the code sent by SMS (appointments/views/confirm.py)
→ the appointment page."""

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django_countries import countries

from appointments import selectors
from appointments.errors import BookingError, ErrorCode
from appointments.forms import (
    DetailsForm,
    PartySizeForm,
    SlotForm,
    initial_from_typed,
)
from appointments.models import Hold, Office, Slot
from appointments.services.booking import (
    check_screening,
    held_details,
    hold_slot,
    keep_details,
)
from appointments.views.common import (
    BOOKING,
    DESK_RETURN,
    GET_POST,
    address_of,
    busy,
    day_or_redirect,
    over_limit_message,
    parse_uuid,
    problem,
    save_state,
    session_state,
    too_many_holds,
    with_urls,
)
from core.limits import refused
from core.pages import render_shared
from core.sessions import read_along, values_read_along
from eligibility.models import Screening
from eligibility.services import ScreeningError, screening_from_reference
from eligibility.views import KNOWN_KEY


@require_safe
def start(request: HttpRequest) -> HttpResponse:
    """Where "Book an appointment" leads: only with a valid, signed reference to an eligible screening."""
    reference = request.GET.get("screening", "")
    if not reference and session_state(request, BOOKING).get("screening"):
        return redirect("appointments:choose-office")
    try:
        screening = screening_from_reference(reference, max_age=datetime.timedelta(days=settings.SCREENING_VALID_DAYS))
        check_screening(screening, now=timezone.now())
    except ScreeningError as exc:
        return render(request, "appointments/reference_invalid.html", {"message": exc.message}, status=400)
    except BookingError as exc:
        return problem(request, exc.message, restart=True)
    back_to_desk = request.session.pop(DESK_RETURN, None)
    if session_state(request, BOOKING).get("screening") != screening.pk:
        # What the pages need of the screening (it never changes) rides in the session, with the
        # date of birth and nationality this browser answered, so they are not asked twice.
        # Taken once: they leave the session with this booking (a shared phone, a desk computer).
        known = request.session.pop(KNOWN_KEY, None)
        known = known if isinstance(known, dict) and known.get("screening") == screening.pk else {}
        request.session[BOOKING] = {
            "screening": screening.pk,
            "eligible": screening.eligible_pathways,
            "created": screening.created_at.isoformat(),
            "country": str(screening.host_country),
            "known": {key: known[key] for key in ("date_of_birth", "nationality") if isinstance(known.get(key), str)},
        }
    # Staff who answered the questions with a person at the desk go back to the desk's walk-in
    # page (it put its own address in the session) to choose one of today's times.
    if back_to_desk and request.user.is_staff and url_has_allowed_host_and_scheme(back_to_desk, allowed_hosts=None):
        return redirect(back_to_desk)
    return redirect("appointments:choose-office")


@dataclass(frozen=True)
class ScreeningFacts:
    """The screening as the booking pages see it, without a query; `load()` for the services."""

    pk: int
    eligible_pathways: list[str]
    created_at: datetime.datetime
    host_country: str = ""

    def load(self) -> Screening:
        screening = Screening.objects.filter(pk=self.pk).first()
        if screening is None:
            raise BookingError(_("Please answer the questions again before booking."), code=ErrorCode.SCREENING)
        return screening


def screening_facts(request: HttpRequest) -> ScreeningFacts | None:
    booking = session_state(request, BOOKING)
    try:
        return ScreeningFacts(
            pk=int(booking["screening"]),
            eligible_pathways=list(booking["eligible"]),
            created_at=datetime.datetime.fromisoformat(booking["created"]),
            host_country=str(booking.get("country") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


def booking_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pass the session's screening (still valid for booking) to the view."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        screening = screening_facts(request)
        if screening is None:
            return problem(
                request,
                _("To book, first answer the questions: booking opens from your result page."),
                restart=True,
            )
        try:
            check_screening(screening, now=timezone.now())
        except BookingError as exc:
            return problem(request, exc.message, restart=True)
        return view(request, screening, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_safe
@booking_view
def choose_office(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    cities = selectors.offices_for(screening)
    offices = [office for _city, group in cities for office in group]
    if len(offices) == 1 and not request.GET.get("list"):
        # The only office where the person lives: nothing to choose (the day page names it, with
        # a link back here).
        return redirect("appointments:choose-day", office=offices[0].slug)
    country = countries.name(screening.host_country) if screening.host_country else ""
    return render(request, "appointments/book/office.html", {"cities": cities, "country": country})


def _office(screening: ScreeningFacts, slug: str) -> Office:
    office = selectors.office_for(screening, slug)
    if office is None:
        raise Http404
    return office


@require_safe
@booking_view
def choose_day(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    chosen = _office(screening, office)
    if chosen.allocation == Office.Allocation.LOTTERY:
        return redirect("allocation:lottery", chosen.slug)
    days = selectors.bookable_days(chosen, timezone.now())
    return render(
        request,
        "appointments/book/day.html",
        {
            "office": chosen,
            "days": with_urls(days, lambda day: reverse("appointments:choose-slot", args=[chosen.slug, day.date])),
            "back_url": reverse("appointments:choose-office"),
            "moving": False,
            # Every day full: the page offers the office's waitlist (allocation, by URL name).
            "full": not any(day.places_left for day in days),
        },
    )


def _times_page_keys(request: HttpRequest, office: str, date: datetime.date) -> list[str]:
    return selectors.office_and_times_keys(office, date) if request.method == "GET" else []


@read_along(_times_page_keys)
@GET_POST
@booking_view
def choose_slot(request: HttpRequest, screening: ScreeningFacts, office: str, date: datetime.date) -> HttpResponse:
    if request.method == "POST":
        chosen, times = _office(screening, office), None
    else:
        # Showing the times: the office and the day's times read with the session (read_along).
        chosen, times = selectors.office_and_times(
            screening, office, date, timezone.now(), read=lambda keys: values_read_along(request, keys)
        )
        if chosen is None:
            raise Http404
    if chosen.allocation == Office.Allocation.LOTTERY:
        # Places here are not first come: they go by the office's draw.
        return redirect("allocation:lottery", chosen.slug)
    # Made only when used: a page kept by its process (render_shared) needs neither the link nor
    # the form, only what the form would show.
    days_url = reverse_lazy("appointments:choose-day", args=[chosen.slug])
    day = day_or_redirect(request, chosen, date, days_url, times=times)
    if isinstance(day, HttpResponse):
        return day

    def page(form: SlotForm) -> dict[str, Any]:
        return {"office": chosen, "day": day, "form": form, "back_url": days_url, "moving": False}

    if request.method != "POST":
        # The same for everyone who sees this day with these times and places (core.pages).
        return render_shared(
            request,
            "appointments/book/time.html",
            lambda: page(SlotForm(slots=day.slots)),
            key=(chosen.name, chosen.hold_minutes, SlotForm.shown_for(day.slots)),
        )
    form = SlotForm(request.POST, slots=day.slots)
    wait = too_many_holds(request)
    if wait is not None:
        # The time page again, the chosen time still selected, saying when to choose again.
        wait = over_limit_message(request, _too_many_attempts(wait), zone=chosen.zone)
    elif form.is_valid():
        booking = session_state(request, BOOKING)
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"],
                screening=screening.load(),
                replaces=parse_uuid(booking.get("hold")),
                address=address_of(request, staff_of(request, chosen)),
            )
        except BookingError as exc:
            if exc.code == "busy":
                return busy(request, exc)
            if exc.code != ErrorCode.LIMIT:
                messages.error(request, exc.message)
                return redirect(request.path)
            wait = over_limit_message(request, exc, zone=chosen.zone)
        else:
            # A time chosen here is never the desk's walk-in (that page sets it again if it is).
            save_state(request, BOOKING, slot=hold.slot_id, hold=str(hold.token), walk_in=False)
            return redirect("appointments:people")
    response = render(request, "appointments/book/time.html", page(form), status=400 if form.errors else 200)
    return refused(response, wait) if wait is not None else response


def _too_many_attempts(seconds: int) -> BookingError:
    retry_at = timezone.now() + datetime.timedelta(seconds=seconds)
    return BookingError(_("Too many attempts from this connection."), code=ErrorCode.LIMIT, retry_at=retry_at)


def held_slot(request: HttpRequest) -> Slot | None:
    slot_id = session_state(request, BOOKING).get("slot")
    return Slot.objects.select_related("office").filter(pk=slot_id).first() if slot_id else None


def hold_expiry(request: HttpRequest) -> datetime.datetime | None:
    token = parse_uuid(session_state(request, BOOKING).get("hold"))
    hold = Hold.objects.filter(token=token).first() if token else None
    return hold.expires_at if hold else None


@GET_POST
@booking_view
def people(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    """How many people come: asked first, so the details page asks only for the companions needed."""
    slot = held_slot(request)
    if slot is None:
        messages.error(request, _("Please choose a time first."))
        return redirect("appointments:choose-office")
    booking = session_state(request, BOOKING)
    form = PartySizeForm(request.POST or None, office=slot.office, initial={"party_size": booking.get("people", 1)})
    if request.method == "POST" and form.is_valid():
        save_state(request, BOOKING, people=form.cleaned_data["party_size"])
        return redirect("appointments:details")
    day = slot.local_start().date()
    return render(
        request,
        "appointments/book/people.html",
        {
            "form": form,
            "slot": slot,
            "office": slot.office,
            "hold_expires": hold_expiry(request),
            "back_url": reverse("appointments:choose-slot", args=[slot.office.slug, day]),
        },
        status=400 if form.errors else 200,
    )


@GET_POST
@booking_view
def details(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    slot = held_slot(request)
    if slot is None:
        messages.error(request, _("Please choose a time first."))
        return redirect("appointments:choose-office")
    booking = session_state(request, BOOKING)
    day = slot.local_start().date()
    known = booking.get("known") if isinstance(booking.get("known"), dict) else {}
    # "Change" next to the date of birth and nationality taken from the answers asks for them.
    asking = request.GET.get("change") == "identity" or request.POST.get("identity") == "ask"
    typed = held_details(token=parse_uuid(booking.get("hold"))) or {}
    form = DetailsForm(
        request.POST or None,
        office=slot.office,
        day=day,
        party_size=booking.get("people", 1),
        known={} if asking else known,
        # The number chosen on the page before wins over the one typed with earlier details.
        initial={**initial_from_typed(typed), "party_size": booking.get("people", 1)},
    )
    wait = None
    if request.method == "POST" and form.is_valid():
        held = _keep_with_hold(request, screening, slot, form.as_typed())
        if isinstance(held, HttpResponse):
            return held
        if held is None:
            # A new booking in this browser (another adult of the family) forgets the one before.
            save_state(request, BOOKING, key=booking.get("key") or str(uuid.uuid4()), done=None)
            return redirect("appointments:check")
        wait = held  # over a limit: the form again, as typed, saying when to try again
    response = render(
        request,
        "appointments/book/details.html",
        {
            "form": form,
            "slot": slot,
            "office": slot.office,
            "known": form.known,
            "hold_expires": hold_expiry(request),
            "back_url": reverse("appointments:people"),
        },
        status=400 if form.errors else 200,
    )
    return refused(response, wait) if wait is not None else response


def _keep_with_hold(
    request: HttpRequest, screening: ScreeningFacts, slot: Slot, values: dict[str, Any]
) -> HttpResponse | int | None:
    """Keep the details with the session's hold (never in the session); None when kept. When the
    hold ran out while the form was being filled in, the same time is held again if it is free;
    over a limit, the seconds to wait (the message is added)."""
    booking = session_state(request, BOOKING)
    if keep_details(token=parse_uuid(booking.get("hold")), details=values):
        return None
    wait = too_many_holds(request)
    if wait is not None:
        return over_limit_message(request, _too_many_attempts(wait), zone=slot.office.zone)
    staff = staff_of(request, slot.office)
    try:
        hold = hold_slot(
            slot_id=slot.pk,
            screening=screening.load(),
            replaces=parse_uuid(booking.get("hold")),
            walk_in=bool(booking.get("walk_in")) and staff is not None,
            address=address_of(request, staff),
        )
    except BookingError as exc:
        if exc.code == "busy":
            return busy(request, exc)
        if exc.code == ErrorCode.LIMIT:
            return over_limit_message(request, exc, zone=slot.office.zone)
        forget_hold(request)
        messages.error(request, exc.message)
        return redirect("appointments:choose-day", office=slot.office.slug)
    keep_details(token=hold.token, details=values)
    save_state(request, BOOKING, slot=hold.slot_id, hold=str(hold.token))
    return None


def forget_hold(request: HttpRequest) -> None:
    booking = session_state(request, BOOKING)
    for name in ("slot", "hold", "key"):
        booking.pop(name, None)
    request.session[BOOKING] = booking


def staff_of(request: HttpRequest, office: Office) -> Any:
    """The signed-in member of staff of this office booking on a person's behalf (a phone call, or
    a person at the desk), or None: the applicant books for themselves."""
    return request.user if selectors.offices_of(request.user).filter(pk=office.pk).exists() else None
