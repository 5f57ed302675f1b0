"""Public booking and manage pages.

Booking: /book/?screening=<signed reference> → office → day → time (holds a place) → details →
check your answers → confirm → the appointment page. Manage: reference + date of birth, or a signed
link → the appointment page → cancel, or move to another time.

What the applicant has typed lives in the session, never in a URL. The appointment a session may see
is kept in the session too, after a booking, a lookup or a signed link."""

import datetime
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from django_countries import countries
from django_ratelimit.core import is_ratelimited
from phonenumber_field.phonenumber import PhoneNumber

from appointments import calendar, selectors
from appointments.forms import (
    LANGUAGE_CHOICES,
    ConfirmForm,
    DetailsForm,
    ManageForm,
    SlotForm,
    initial_from_session,
)
from appointments.models import Appointment, DocumentType, Hold, Office, Slot
from appointments.services import (
    ApplicantDetails,
    BookingError,
    appointment_from_token,
    book_appointment,
    cancel_appointment,
    check_screening,
    hold_slot,
    move_appointment,
)
from core.text import is_ascii_digits
from eligibility.models import Screening
from eligibility.services import ScreeningError, screening_from_reference

BOOKING = "booking"
MANAGE = "manage"
MOVE = "move"
GET_POST = require_http_methods(["GET", "HEAD", "POST"])


# ---------------------------------------------------------------------------------------------
# Shared pages
# ---------------------------------------------------------------------------------------------
def problem(request: HttpRequest, message: str, *, status: int = 400, restart: bool = False) -> HttpResponse:
    return render(request, "appointments/problem.html", {"message": message, "restart": restart}, status=status)


def busy(request: HttpRequest, error: BookingError) -> HttpResponse:
    response = render(request, "appointments/busy.html", {"message": error.message}, status=429)
    response["Retry-After"] = "5"
    return response


def _state(request: HttpRequest, key: str) -> dict[str, Any]:
    value = request.session.get(key)
    return value if isinstance(value, dict) else {}


def _save(request: HttpRequest, name: str, **values: Any) -> None:
    request.session[name] = {**_state(request, name), **values}


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------------------------
@require_safe
def start(request: HttpRequest) -> HttpResponse:
    """Where "Book an appointment" leads: only with a valid, signed reference to an eligible screening."""
    reference = request.GET.get("screening", "")
    if not reference and _state(request, BOOKING).get("screening"):
        return redirect("appointments:choose-office")
    try:
        screening = screening_from_reference(reference, max_age=datetime.timedelta(days=settings.SCREENING_VALID_DAYS))
        check_screening(screening, now=timezone.now())
    except ScreeningError as exc:
        return render(request, "appointments/reference_invalid.html", {"message": exc.message}, status=400)
    except BookingError as exc:
        return problem(request, exc.message, restart=True)
    if _state(request, BOOKING).get("screening") != screening.pk:
        # What the pages need of the screening (it never changes) rides in the session.
        request.session[BOOKING] = {
            "screening": screening.pk,
            "eligible": screening.eligible_pathways,
            "created": screening.created_at.isoformat(),
        }
    return redirect("appointments:choose-office")


@dataclass(frozen=True)
class ScreeningFacts:
    """The screening as the booking pages see it, without a query; `load()` for the services."""

    pk: int
    eligible_pathways: list[str]
    created_at: datetime.datetime

    def load(self) -> Screening:
        screening = Screening.objects.filter(pk=self.pk).first()
        if screening is None:
            raise BookingError(_("Please answer the questions again before booking."), code="screening")
        return screening


def _screening_facts(request: HttpRequest) -> ScreeningFacts | None:
    booking = _state(request, BOOKING)
    try:
        return ScreeningFacts(
            pk=int(booking["screening"]),
            eligible_pathways=list(booking["eligible"]),
            created_at=datetime.datetime.fromisoformat(booking["created"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def booking_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pass the session's screening (still valid for booking) to the view."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        screening = _screening_facts(request)
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
    return render(request, "appointments/book/office.html", {"cities": cities})


def _office(screening: ScreeningFacts, slug: str) -> Office:
    office = selectors.office_for(screening, slug)
    if office is None:
        raise Http404
    return office


@require_safe
@booking_view
def choose_day(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    chosen = _office(screening, office)
    days = selectors.bookable_days(chosen, timezone.now())
    return render(
        request,
        "appointments/book/day.html",
        {
            "office": chosen,
            "days": _with_urls(days, lambda day: reverse("appointments:choose-slot", args=[chosen.slug, day.date])),
            "back_url": reverse("appointments:choose-office"),
            "moving": False,
        },
    )


def _too_many_holds(request: HttpRequest) -> bool:
    return is_ratelimited(
        request, group="appointments.hold", key="ip", rate=settings.HOLD_RATE, method="POST", increment=True
    )


def _too_many(request: HttpRequest) -> HttpResponse:
    return problem(
        request, _("Too many attempts from this connection. Please wait a few minutes and try again."), status=429
    )


def _with_urls(days: list[selectors.Day], url: Callable[[selectors.Day], str]) -> list[selectors.Day]:
    for day in days:
        day.url = url(day)
    return days


def _day_or_redirect(request: HttpRequest, office: Office, date: datetime.date, days_url: str) -> Any:
    # Showing the times may use the cached copy; a choice is checked against the database.
    read = selectors.bookable_day if request.method == "POST" else selectors.times_of_day
    day = read(office, date, timezone.now())
    if day is None or day.closed or not any(slot.places_left for slot in day.slots):
        messages.error(request, _("There are no free times on that day any more. Please choose another day."))
        return redirect(days_url)
    return day


@GET_POST
@booking_view
def choose_slot(request: HttpRequest, screening: ScreeningFacts, office: str, date: datetime.date) -> HttpResponse:
    chosen = _office(screening, office)
    days_url = reverse("appointments:choose-day", args=[chosen.slug])
    day = _day_or_redirect(request, chosen, date, days_url)
    if isinstance(day, HttpResponse):
        return day
    form = SlotForm(request.POST or None, slots=day.slots)
    if request.method == "POST" and _too_many_holds(request):
        return _too_many(request)
    if request.method == "POST" and form.is_valid():
        booking = _state(request, BOOKING)
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"], screening=screening.load(), replaces=_uuid(booking.get("hold"))
            )
        except BookingError as exc:
            if exc.code == "busy":
                return busy(request, exc)
            messages.error(request, exc.message)
            return redirect(request.path)
        _save(request, BOOKING, slot=hold.slot_id, hold=str(hold.token))
        return redirect("appointments:details")
    return render(
        request,
        "appointments/book/time.html",
        {"office": chosen, "day": day, "form": form, "back_url": days_url, "moving": False},
        status=400 if form.errors else 200,
    )


def _held_slot(request: HttpRequest) -> Slot | None:
    slot_id = _state(request, BOOKING).get("slot")
    return Slot.objects.select_related("office").filter(pk=slot_id).first() if slot_id else None


def _hold_expiry(request: HttpRequest) -> datetime.datetime | None:
    token = _uuid(_state(request, BOOKING).get("hold"))
    hold = Hold.objects.filter(token=token).first() if token else None
    return hold.expires_at if hold else None


@GET_POST
@booking_view
def details(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    slot = _held_slot(request)
    if slot is None:
        messages.error(request, _("Please choose a time first."))
        return redirect("appointments:choose-office")
    booking = _state(request, BOOKING)
    day = slot.local_start().date()
    form = DetailsForm(
        request.POST or None, office=slot.office, day=day, initial=initial_from_session(booking.get("details", {}))
    )
    if request.method == "POST" and form.is_valid():
        _save(request, BOOKING, details=form.to_session(), key=booking.get("key") or str(uuid.uuid4()))
        return redirect("appointments:check")
    return render(
        request,
        "appointments/book/details.html",
        {
            "form": form,
            "slot": slot,
            "office": slot.office,
            "hold_expires": _hold_expiry(request),
            "back_url": reverse("appointments:choose-slot", args=[slot.office.slug, day]),
        },
        status=400 if form.errors else 200,
    )


def _summary_rows(values: dict[str, Any]) -> list[tuple[str, str]]:
    born = datetime.date.fromisoformat(values["date_of_birth"])
    people = [str(values["party_size"])] + [f"{c['name']} ({c['age']})" for c in values.get("companions", [])]
    return [
        (_("Full name"), values["full_name"]),
        (_("Date of birth"), date_format(born, "DATE_FORMAT")),
        (_("Nationality"), str(countries.name(values["nationality"]))),
        (_("Identity document"), f"{DocumentType(values['document_type']).label} {values['document_number']}"),
        (_("Country that issued the document"), str(countries.name(values["document_country"]))),
        (_("Mobile phone"), PhoneNumber.from_string(values["phone"]).as_international),
        (_("E-mail"), values["email"] or _("None")),
        (_("Language for messages"), dict(LANGUAGE_CHOICES).get(values["language"], values["language"])),
        (_("People attending"), ", ".join(people)),
    ]


def _details(values: dict[str, Any]) -> ApplicantDetails:
    return ApplicantDetails(**{**values, "date_of_birth": datetime.date.fromisoformat(values["date_of_birth"])})


@GET_POST
@booking_view
def check(request: HttpRequest, screening: ScreeningFacts) -> HttpResponse:
    booking = _state(request, BOOKING)
    slot = _held_slot(request)
    # A second press, a replayed form or the back button: the key finds the appointment made.
    key = request.POST.get("key") if request.method == "POST" else booking.get("done")
    if key and key in (booking.get("key"), booking.get("done")):
        done = Appointment.objects.filter(booking_key=_uuid(key)).first()
        if done is not None:
            return _show(request, done)
    if slot is None or not booking.get("details") or not booking.get("key"):
        messages.error(request, _("Please choose a time and fill in your details first."))
        return redirect("appointments:choose-office")
    values = booking["details"]
    if request.method == "POST":
        if request.POST.get("key") != booking["key"]:
            messages.error(request, _("Please check your answers again: they changed in another window."))
            return redirect("appointments:check")
        try:
            appointment = book_appointment(
                screening=screening.load(),
                slot_id=slot.pk,
                details=_details(values),
                booking_key=uuid.UUID(booking["key"]),
                hold=_uuid(booking.get("hold")),
            )
        except BookingError as exc:
            return _booking_failed(request, exc, slot)
        # Only the screening stays: booking again (another adult of the family) starts afresh.
        request.session[BOOKING] = {
            **{name: booking[name] for name in ("screening", "eligible", "created")},
            "done": booking["key"],
        }
        messages.success(request, _("Your appointment is booked."))
        return _show(request, appointment)
    return render(
        request,
        "appointments/book/check.html",
        {
            "slot": slot,
            "office": slot.office,
            "rows": _summary_rows(values),
            "key": booking["key"],
            "hold_expires": _hold_expiry(request),
            "time_url": reverse("appointments:choose-day", args=[slot.office.slug]),
        },
    )


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
    # Full or no longer bookable: choose another time; the details typed are kept.
    booking = _state(request, BOOKING)
    booking.pop("hold", None)
    booking.pop("slot", None)
    request.session[BOOKING] = booking
    return redirect("appointments:choose-day", office=slot.office.slug)


def _show(request: HttpRequest, appointment: Appointment) -> HttpResponseRedirect:
    """Let this session see the appointment, and go to its page."""
    request.session[MANAGE] = {"id": appointment.pk}
    request.session.pop(MOVE, None)
    return redirect("appointments:appointment")


# ---------------------------------------------------------------------------------------------
# Manage
# ---------------------------------------------------------------------------------------------
@GET_POST
def manage(request: HttpRequest) -> HttpResponse:
    """Find an appointment by reference and date of birth. A wrong reference and a wrong date of
    birth get the same answer after the same work (one query, one constant-time comparison)."""
    form = ManageForm(request.POST or None)
    if request.method == "POST":
        if is_ratelimited(
            request,
            group="appointments.manage",
            key="ip",
            rate=settings.MANAGE_LOOKUP_RATE,
            method="POST",
            increment=True,
        ):
            return problem(
                request,
                _("Too many attempts from this connection. Please wait a few minutes and try again."),
                status=429,
            )
        if form.is_valid():
            appointment = Appointment.objects.filter(reference=form.cleaned_data["reference"]).first()
            born = appointment.date_of_birth.isoformat() if appointment else "0000-00-00"
            if hmac.compare_digest(born, form.cleaned_data["date_of_birth"].isoformat()) and appointment:
                return _show(request, appointment)
            form.add_error(None, _("We could not find an appointment with this reference and date of birth."))
    return render(request, "appointments/manage/lookup.html", {"form": form}, status=400 if form.errors else 200)


@require_safe
def manage_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = appointment_from_token(token)
    except BookingError as exc:
        return problem(request, exc.message, status=400)
    return _show(request, appointment)


@require_safe
def short_link(request: HttpRequest, token: str) -> HttpResponse:
    """The manage link in SMS messages, without a language: continue in the applicant's one."""
    appointment_id = token.split("-", 1)[0]
    language = (
        Appointment.objects.filter(pk=appointment_id).values_list("language", flat=True).first()
        if is_ascii_digits(appointment_id) and len(appointment_id) <= 18
        else None
    )
    with translation.override(language or settings.LANGUAGE_CODE):
        return redirect("appointments:manage-link", token=token)


def _managed(request: HttpRequest) -> Appointment | None:
    appointment_id = _state(request, MANAGE).get("id")
    if not appointment_id:
        return None
    return Appointment.objects.select_related("slot__office", "screening").filter(pk=appointment_id).first()


def manage_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        appointment = _managed(request)
        if appointment is None:
            messages.info(request, _("Enter your reference and date of birth to see your appointment."))
            return redirect("appointments:manage")
        return view(request, appointment, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _changeable(appointment: Appointment) -> bool:
    return appointment.status == Appointment.Status.BOOKED and appointment.slot.starts_at > timezone.now()


@require_safe
@manage_view
def appointment(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    """The confirmation page: reference, QR code, where and when, what to bring, calendar, print."""
    office = appointment.slot.office
    return render(
        request,
        "appointments/manage/appointment.html",
        {
            "appointment": appointment,
            "office": office,
            "slot": appointment.slot,
            "qr": calendar.qr_svg(appointment),
            "bring": appointment.what_to_bring((request.LANGUAGE_CODE or "es")[:2]),
            "changeable": _changeable(appointment),
        },
    )


@require_safe
@manage_view
def calendar_file(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    if appointment.status != Appointment.Status.BOOKED:
        raise Http404
    response = HttpResponse(
        calendar.ics(appointment, language=request.LANGUAGE_CODE), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="cita-{appointment.reference}.ics"'
    return response


def _change_failed(request: HttpRequest, error: BookingError) -> HttpResponse:
    if error.code == "busy":
        return busy(request, error)
    messages.error(request, error.message)
    return redirect("appointments:appointment")


@GET_POST
@manage_view
def cancel(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    if not _changeable(appointment):
        return redirect("appointments:appointment")
    form = ConfirmForm(request.POST or None, initial={"state": appointment.state})
    if request.method == "POST":
        if not form.is_valid():
            return _change_failed(request, BookingError(_("Please try again."), code="stale"))
        try:
            cancel_appointment(appointment_id=appointment.pk, expected_state=form.cleaned_data["state"])
        except BookingError as exc:
            return _change_failed(request, exc)
        messages.success(request, _("Your appointment is cancelled. The place is free for someone else."))
        return redirect("appointments:appointment")
    return render(
        request,
        "appointments/manage/cancel.html",
        {"appointment": appointment, "office": appointment.slot.office, "form": form},
    )


@require_safe
@manage_view
def move_day(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    if not _changeable(appointment):
        return redirect("appointments:appointment")
    office = appointment.slot.office
    return render(
        request,
        "appointments/book/day.html",
        {
            "office": office,
            "days": _with_urls(
                selectors.bookable_days(office, timezone.now()),
                lambda day: reverse("appointments:move-slot", args=[day.date]),
            ),
            "back_url": reverse("appointments:appointment"),
            "moving": True,
            "current": appointment.slot,
        },
    )


@GET_POST
@manage_view
def move_slot(request: HttpRequest, appointment: Appointment, date: datetime.date) -> HttpResponse:
    if not _changeable(appointment):
        return redirect("appointments:appointment")
    office = appointment.slot.office
    days_url = reverse("appointments:move-day")
    day = _day_or_redirect(request, office, date, days_url)
    if isinstance(day, HttpResponse):
        return day
    day.slots = [slot for slot in day.slots if slot.pk != appointment.slot_id]
    form = SlotForm(request.POST or None, slots=day.slots)
    if request.method == "POST" and _too_many_holds(request):
        return _too_many(request)
    if request.method == "POST" and form.is_valid():
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"],
                screening=appointment.screening,
                replaces=_uuid(_state(request, MOVE).get("hold")),
                moving=True,
            )
        except BookingError as exc:
            if exc.code == "busy":
                return busy(request, exc)
            messages.error(request, exc.message)
            return redirect(request.path)
        request.session[MOVE] = {"slot": hold.slot_id, "hold": str(hold.token)}
        return redirect("appointments:move-confirm")
    return render(
        request,
        "appointments/book/time.html",
        {"office": office, "day": day, "form": form, "back_url": days_url, "moving": True},
        status=400 if form.errors else 200,
    )


@GET_POST
@manage_view
def move_confirm(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    move = _state(request, MOVE)
    new_slot = Slot.objects.select_related("office").filter(pk=move.get("slot")).first()
    if not _changeable(appointment) or new_slot is None:
        return redirect("appointments:appointment")
    form = ConfirmForm(request.POST or None, initial={"state": appointment.state})
    if request.method == "POST":
        if not form.is_valid():
            return _change_failed(request, BookingError(_("Please try again."), code="stale"))
        try:
            move_appointment(
                appointment_id=appointment.pk,
                slot_id=new_slot.pk,
                expected_state=form.cleaned_data["state"],
                hold=_uuid(move.get("hold")),
            )
        except BookingError as exc:
            request.session.pop(MOVE, None)
            if exc.code in ("full", "unavailable"):
                messages.error(request, exc.message)
                return redirect("appointments:move-day")
            return _change_failed(request, exc)
        request.session.pop(MOVE, None)
        messages.success(request, _("Your appointment was moved. Your previous time is free for someone else."))
        return redirect("appointments:appointment")
    return render(
        request,
        "appointments/manage/move_confirm.html",
        {"appointment": appointment, "office": new_slot.office, "new_slot": new_slot, "form": form},
    )
