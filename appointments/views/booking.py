"""Booking pages: /book/?screening=<signed reference> → office → day → time (holds a place) →
details → check your answers → confirm (→ the code sent by SMS, at offices that verify phones) →
the appointment page."""

import datetime
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from django_countries import countries
from phonenumber_field.phonenumber import PhoneNumber

from appointments import selectors
from appointments.errors import BookingError, ErrorCode
from appointments.forms import (
    LANGUAGE_CHOICES,
    DetailsForm,
    PartySizeForm,
    PhoneCodeForm,
    SlotForm,
    describe,
    initial_from_typed,
)
from appointments.models import Appointment, DocumentType, Hold, Office, Slot
from appointments.services import phone_codes
from appointments.services.booking import (
    ApplicantDetails,
    book_appointment,
    check_screening,
    held_details,
    hold_slot,
    keep_details,
)
from appointments.views.common import (
    BOOKING,
    DESK_RETURN,
    GET_POST,
    JUST_BOOKED,
    address_of,
    busy,
    day_or_redirect,
    over_limit_message,
    parse_uuid,
    problem,
    save_state,
    session_state,
    show_appointment,
    too_many_holds,
    with_urls,
)
from core.limits import refused
from core.pages import render_shared
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


@GET_POST
@booking_view
def choose_slot(request: HttpRequest, screening: ScreeningFacts, office: str, date: datetime.date) -> HttpResponse:
    chosen = _office(screening, office)
    if chosen.allocation == Office.Allocation.LOTTERY:
        # Places here are not first come: they go by the office's draw.
        return redirect("allocation:lottery", chosen.slug)
    days_url = reverse("appointments:choose-day", args=[chosen.slug])
    day = day_or_redirect(request, chosen, date, days_url)
    if isinstance(day, HttpResponse):
        return day
    form = SlotForm(request.POST or None, slots=day.slots)
    wait = too_many_holds(request) if request.method == "POST" else None
    if wait is not None:
        # The time page again, the chosen time still selected, saying when to choose again.
        wait = over_limit_message(request, _too_many_attempts(wait), zone=chosen.zone)
    elif request.method == "POST" and form.is_valid():
        booking = session_state(request, BOOKING)
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"],
                screening=screening.load(),
                replaces=parse_uuid(booking.get("hold")),
                address=address_of(request, _staff_of(request, chosen)),
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
    # What the page shows besides the language and the path (core.pages): the same for everyone
    # who sees this day with these times and places; None with an error or a limit to show.
    shared = None if form.errors or wait is not None else (chosen.name, chosen.hold_minutes, form.shown())
    response = render_shared(
        request,
        "appointments/book/time.html",
        {"office": chosen, "day": day, "form": form, "back_url": days_url, "moving": False},
        key=shared,
        status=400 if form.errors else 200,
    )
    return refused(response, wait) if wait is not None else response


def _too_many_attempts(seconds: int) -> BookingError:
    retry_at = timezone.now() + datetime.timedelta(seconds=seconds)
    return BookingError(_("Too many attempts from this connection."), code=ErrorCode.LIMIT, retry_at=retry_at)


def _held_slot(request: HttpRequest) -> Slot | None:
    slot_id = session_state(request, BOOKING).get("slot")
    return Slot.objects.select_related("office").filter(pk=slot_id).first() if slot_id else None


def _hold_expiry(request: HttpRequest) -> datetime.datetime | None:
    token = parse_uuid(session_state(request, BOOKING).get("hold"))
    hold = Hold.objects.filter(token=token).first() if token else None
    return hold.expires_at if hold else None


@GET_POST
@booking_view
def people(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    """How many people come: asked first, so the details page asks only for the companions needed."""
    slot = _held_slot(request)
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
            "hold_expires": _hold_expiry(request),
            "back_url": reverse("appointments:choose-slot", args=[slot.office.slug, day]),
        },
        status=400 if form.errors else 200,
    )


@GET_POST
@booking_view
def details(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    slot = _held_slot(request)
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
            "hold_expires": _hold_expiry(request),
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
    staff = _staff_of(request, slot.office)
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
        _forget_hold(request)
        messages.error(request, exc.message)
        return redirect("appointments:choose-day", office=slot.office.slug)
    keep_details(token=hold.token, details=values)
    save_state(request, BOOKING, slot=hold.slot_id, hold=str(hold.token))
    return None


def _forget_hold(request: HttpRequest) -> None:
    booking = session_state(request, BOOKING)
    for name in ("slot", "hold", "key"):
        booking.pop(name, None)
    request.session[BOOKING] = booking


def _summary_rows(values: dict[str, Any]) -> list[tuple[str, str, str]]:
    born = datetime.date.fromisoformat(values["date_of_birth"])
    people = [str(values["party_size"])] + [f"{c['name']} ({c['age']})" for c in values.get("companions", [])]
    details = reverse("appointments:details")
    identity = f"{details}?change=identity"
    return [
        (_("Full name"), values["full_name"], details),
        (_("Date of birth"), date_format(born, "DATE_FORMAT"), identity),
        (_("Nationality"), str(countries.name(values["nationality"])), identity),
        (_("Identity document"), f"{DocumentType(values['document_type']).label} {values['document_number']}", details),
        (_("Country that issued the document"), str(countries.name(values["document_country"])), details),
        (_("Mobile phone"), PhoneNumber.from_string(values["phone"]).as_international, details),
        (_("E-mail"), values["email"] or _("None"), details),
        (_("Language for messages"), dict(LANGUAGE_CHOICES).get(values["language"], values["language"]), details),
        (_("People attending"), ", ".join(people), reverse("appointments:people")),
    ]


def _details(values: dict[str, Any]) -> ApplicantDetails:
    return ApplicantDetails(**{**values, "date_of_birth": datetime.date.fromisoformat(values["date_of_birth"])})


def _booked_already(request: HttpRequest) -> Appointment | None:
    """A second press, a replayed form or the back button: the key finds the appointment made. A
    booking in progress (another adult of the family) has its own check page."""
    booking = session_state(request, BOOKING)
    key = request.POST.get("key") if request.method == "POST" else None if booking.get("key") else booking.get("done")
    if key and key in (booking.get("key"), booking.get("done")):
        return Appointment.objects.filter(booking_key=parse_uuid(key)).first()
    return None


def _held_booking(request: HttpRequest) -> tuple[Slot, dict[str, Any]] | HttpResponse:
    """The held time and the details typed with it, or where to go when they are gone (the hold
    expired and its details with it, or nothing was chosen yet)."""
    booking = session_state(request, BOOKING)
    slot = _held_slot(request)
    values = held_details(token=parse_uuid(booking.get("hold"))) if slot is not None else None
    if slot is not None and not values and booking.get("key"):
        expires = _hold_expiry(request)
        if expires is not None and expires > timezone.now():
            # Another time held after the first hold ran out: its details are still to be typed.
            return redirect("appointments:details")
        # The details went with the hold when it expired.
        _forget_hold(request)
        messages.error(
            request,
            _(
                "Your time was held for %(minutes)s minutes and that time is over: it is free for others again, "
                "and the details you typed were deleted. Please choose a time and enter your details again."
            )
            % {"minutes": slot.office.hold_minutes},
        )
        return redirect("appointments:choose-day", office=slot.office.slug)
    if slot is None or not values or not booking.get("key"):
        messages.error(request, _("Please choose a time and fill in your details first."))
        return redirect("appointments:choose-office")
    return slot, values


@GET_POST
@booking_view
def check(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    done = _booked_already(request)
    if done is not None:
        return show_appointment(request, done)
    held = _held_booking(request)
    if isinstance(held, HttpResponse):
        return held
    slot, values = held
    booking = session_state(request, BOOKING)
    actor = _staff_of(request, slot.office)
    if request.method == "POST":
        if request.POST.get("key") != booking["key"]:
            messages.error(request, _("Please check your answers again: they changed in another window."))
            return redirect("appointments:check")
        if actor is None and slot.office.verify_phone:
            return _send_code(request, screening, slot, values)
        return _book(request, screening, slot, values, actor=actor)
    return _check_page(request, slot, values, actor=actor)


def _check_page(
    request: HttpRequest, slot: Slot, values: dict[str, Any], *, actor: Any, wait: Any = None
) -> HttpResponse:
    """The check page; with `wait`, refused by a limit (429) with when to try again, the details
    still kept with the hold, to confirm later or change the phone."""
    response = render(
        request,
        "appointments/book/check.html",
        {
            "slot": slot,
            "office": slot.office,
            "rows": _summary_rows(values),
            "key": session_state(request, BOOKING)["key"],
            "hold_expires": _hold_expiry(request),
            "time_url": reverse("appointments:choose-day", args=[slot.office.slug]),
            "on_behalf": actor is not None,
            "code_next": actor is None and slot.office.verify_phone,
        },
    )
    return refused(response, wait) if wait is not None else response


def _book(
    request: HttpRequest, screening: ScreeningFacts, slot: Slot, values: dict[str, Any], *, actor: Any
) -> HttpResponse:
    booking = session_state(request, BOOKING)
    try:
        appointment = book_appointment(
            screening=screening.load(),
            slot_id=slot.pk,
            details=_details(values),
            booking_key=uuid.UUID(booking["key"]),
            hold=parse_uuid(booking.get("hold")),
            actor=actor,
            walk_in=actor is not None and bool(booking.get("walk_in")),
        )
    except BookingError as exc:
        if exc.code != ErrorCode.LIMIT:
            return _booking_failed(request, exc, slot)
        wait = over_limit_message(request, exc, zone=slot.office.zone)
        return _check_page(request, slot, values, actor=actor, wait=wait)
    # Only the screening stays: booking again (another adult of the family) starts afresh.
    request.session[BOOKING] = {
        **{name: booking[name] for name in ("screening", "eligible", "created", "country") if name in booking},
        "done": booking["key"],
    }
    request.session[JUST_BOOKED] = appointment.pk
    return show_appointment(request, appointment)


# ---------------------------------------------------------------------------------------------
# A verified phone (issue 13): at offices with `verify_phone`, an applicant booking for themselves
# enters a code sent by SMS before the booking is made. Nothing but the hold keeps the place meanwhile.
# ---------------------------------------------------------------------------------------------
def _e164(values: dict[str, Any]) -> str:
    return PhoneNumber.from_string(values["phone"]).as_e164


def masked_phone(phone: str) -> str:
    """The number as the code page shows it: "+57 300 *** **67" (the country code, the first three
    and the last two digits)."""
    number = PhoneNumber.from_string(phone)
    national = str(number.national_number)
    hidden = "*" * max(0, len(national) - 5) + national[-2:]
    return f"+{number.country_code} {national[:3]} {hidden[:3]} {hidden[3:]}".rstrip()


def _code_refused(
    request: HttpRequest, error: phone_codes.PhoneCodeError, context: dict[str, Any] | None
) -> HttpResponse:
    """The code page with the refusal, or (no code went to this number yet) the problem page."""
    status = error.code.status
    if context is None and error.code == phone_codes.CodeProblem.TOO_SOON:
        response = busy(request, error)  # "press the button again in a few seconds", with a link back
    elif context is None:
        response = problem(request, error.message, status=status)
    else:
        response = render(request, "appointments/book/phone_code.html", {**context, "refusal": error}, status=status)
    if status == 429:
        # When trying again can help: the next code may be sent, or (every code used) the hold has gone.
        retry_at = error.retry_at or _hold_expiry(request) or timezone.now()
        response["Retry-After"] = str(max(1, math.ceil((retry_at - timezone.now()).total_seconds())))
    return response


def _send_code(request: HttpRequest, screening: ScreeningFacts, slot: Slot, values: dict[str, Any]) -> HttpResponse:
    """Confirm at an office that verifies phones: book if this number was verified already, else
    send a code (unless one sent to this number can still be entered) and ask for it."""
    phone = _e164(values)
    check = phone_codes.check_for_hold(parse_uuid(session_state(request, BOOKING).get("hold")))
    if check is None:
        return redirect("appointments:check")  # the hold ran out just now: that page says so
    if phone_codes.is_verified(check, phone):
        return _book(request, screening, slot, values, actor=None)
    if not phone_codes.has_live_code(check, phone):
        try:
            phone_codes.send_code(check=check, phone=phone, office=slot.office, language=values["language"])
        except phone_codes.PhoneCodeError as exc:
            if exc.code == phone_codes.CodeProblem.GONE:
                return redirect("appointments:check")  # the hold ended just now: that page says so
            # A code to another number just now, or every code used: the page would name a number
            # that got none.
            return _code_refused(request, exc, None)
    return redirect("appointments:verify-phone")


def _code_context(request: HttpRequest, slot: Slot, phone: str, form: PhoneCodeForm) -> dict[str, Any]:
    return {
        "form": form,
        "slot": slot,
        "office": slot.office,
        # Kept on one line, as it is read.
        "phone": format_html('<span class="text-nowrap">{}</span>', masked_phone(phone)),
        "key": session_state(request, BOOKING)["key"],
        "minutes": settings.PHONE_CODE_MINUTES,
        "hold_expires": _hold_expiry(request),
        "back_url": reverse("appointments:check"),
    }


@GET_POST
@booking_view
def verify_phone(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    """The code page: the code sent by SMS books the appointment; a new code can be asked for, and
    the number changed on the details page."""
    done = _booked_already(request)
    if done is not None:
        return show_appointment(request, done)
    held = _held_booking(request)
    if isinstance(held, HttpResponse):
        return held
    slot, values = held
    booking = session_state(request, BOOKING)
    if _staff_of(request, slot.office) is not None or not slot.office.verify_phone:
        return redirect("appointments:check")
    phone = _e164(values)
    check = phone_codes.check_for_hold(parse_uuid(booking.get("hold")), create=False)
    if check is None or check.phone != phone or not check.sends:
        # No code went to this number yet (a new number typed, or the page opened directly).
        messages.info(request, _("Check your booking and press the button to get a code by SMS."))
        return redirect("appointments:check")
    if request.method != "POST" and phone_codes.is_verified(check, phone):
        return redirect("appointments:check")  # its button books at once (after a busy moment)
    resend = request.method == "POST" and "resend" in request.POST
    form = PhoneCodeForm(request.POST if request.method == "POST" and not resend else None)
    context = _code_context(request, slot, phone, form)
    if request.method == "POST":
        if request.POST.get("key") != booking["key"]:
            messages.error(request, _("Please check your answers again: they changed in another window."))
            return redirect("appointments:check")
        try:
            if resend:
                phone_codes.send_code(check=check, phone=phone, office=slot.office, language=values["language"])
                messages.success(request, _("We sent a new code. The codes sent before no longer work."))
                return redirect("appointments:verify-phone")
            if form.is_valid():
                phone_codes.check_code(check=check, phone=phone, code=form.cleaned_data["code"])
                return _book(request, screening, slot, values, actor=None)
        except phone_codes.PhoneCodeError as exc:
            if exc.code == phone_codes.CodeProblem.GONE:
                # A second press booked meanwhile (its hold took the check along), or the hold ended.
                done = Appointment.objects.filter(booking_key=parse_uuid(booking["key"])).first()
                return show_appointment(request, done) if done else redirect("appointments:check")
            if not resend:
                form.add_error("code", exc.message)
                describe(form)
            return _code_refused(request, exc, context)
    return render(request, "appointments/book/phone_code.html", context, status=400 if form.errors else 200)


def _staff_of(request: HttpRequest, office: Office) -> Any:
    """The signed-in member of staff of this office booking on a person's behalf (a phone call, or
    a person at the desk), or None: the applicant books for themselves."""
    return request.user if selectors.offices_of(request.user).filter(pk=office.pk).exists() else None


def _booking_failed(request: HttpRequest, error: BookingError, slot: Slot) -> HttpResponse:
    if error.code == "busy":
        return busy(request, error)
    if error.code == "duplicate":
        return render(request, "appointments/duplicate.html", {"message": error.message}, status=409)
    if error.code == "screening":
        return problem(request, error.message, restart=True)
    messages.error(request, error.message)
    if error.code == "invalid":
        return redirect("appointments:details")
    # Full or no longer bookable: choose another time. The session's hold is kept as the one the
    # next time replaces, so the details typed come along while it lasts.
    booking = session_state(request, BOOKING)
    booking.pop("slot", None)
    request.session[BOOKING] = booking
    return redirect("appointments:choose-day", office=slot.office.slug)
