"""The booking's last steps: check your answers → confirm (→ at offices that verify phones, the
code sent by SMS: issue 13; nothing but the hold keeps the place meanwhile) → the appointment page.
The choosing and typing before are in appointments/views/booking.py."""

import datetime
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_countries import countries
from phonenumber_field.phonenumber import PhoneNumber

from appointments.errors import BookingError, ErrorCode
from appointments.forms import LANGUAGE_CHOICES, PhoneCodeForm, describe
from appointments.models import Appointment, DocumentType, Slot
from appointments.services import phone_codes
from appointments.services.booking import ApplicantDetails, book_appointment, check_phone_may_book, held_details
from appointments.views.booking import (
    ScreeningFacts,
    booking_view,
    forget_hold,
    held_slot,
    hold_expiry,
    staff_of,
)
from appointments.views.common import (
    BOOKING,
    GET_POST,
    busy,
    over_limit_message,
    parse_uuid,
    problem,
    session_state,
    show_appointment,
    show_booked,
)
from appointments.views.phone import code_refused, e164, phone_html, too_many_codes
from core.limits import refused


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
    slot = held_slot(request)
    values = held_details(token=parse_uuid(booking.get("hold"))) if slot is not None else None
    if slot is not None and not values and booking.get("key"):
        expires = hold_expiry(request)
        if expires is not None and expires > timezone.now():
            # Another time held after the first hold ran out: its details are still to be typed.
            return redirect("appointments:details")
        # The details went with the hold when it expired.
        forget_hold(request)
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
    actor = staff_of(request, slot.office)
    if request.method == "POST":
        if request.POST.get("key") != booking["key"]:
            messages.error(request, _("Please check your answers again: they changed in another window."))
            return redirect("appointments:check")
        if actor is None and slot.office.verify_phone:
            return _send_code(request, screening, slot, values)
        return _book(request, screening, slot, values, actor=actor)
    return _check_page(request, slot, values, actor=actor)


def _check_page(
    request: HttpRequest,
    slot: Slot,
    values: dict[str, Any],
    *,
    actor: Any,
    refusal: BookingError | phone_codes.PhoneCodeError | None = None,
) -> HttpResponse:
    """The check page; with `refusal`, refused by a limit (429) saying when to try again, the
    details still kept with the hold, to confirm later or change the phone."""
    wait = None if refusal is None else over_limit_message(request, refusal, zone=slot.office.zone)
    response = render(
        request,
        "appointments/book/check.html",
        {
            "slot": slot,
            "office": slot.office,
            "rows": _summary_rows(values),
            "key": session_state(request, BOOKING)["key"],
            "hold_expires": hold_expiry(request),
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
        return _check_page(request, slot, values, actor=actor, refusal=exc)
    # Only the screening stays: booking again (another adult of the family) starts afresh.
    request.session[BOOKING] = {
        **{name: booking[name] for name in ("screening", "eligible", "created", "country") if name in booking},
        "done": booking["key"],
    }
    return show_booked(request, appointment)


def _send_code(request: HttpRequest, screening: ScreeningFacts, slot: Slot, values: dict[str, Any]) -> HttpResponse:
    """Confirm at an office that verifies phones: book if this number was verified already, else
    send a code (unless one sent to this number can still be entered) and ask for it."""
    phone = e164(values)
    check = phone_codes.check_for_hold(parse_uuid(session_state(request, BOOKING).get("hold")))
    if check is None:
        return redirect("appointments:check")  # the hold ran out just now: that page says so
    if phone_codes.is_verified(check, phone):
        return _book(request, screening, slot, values, actor=None)
    if not phone_codes.has_live_code(check, phone):
        try:
            check_phone_may_book(phone)  # no SMS spent on a booking the number's count would refuse
            _send(request, check, phone, slot, values)
        except BookingError as exc:
            return _check_page(request, slot, values, actor=None, refusal=exc)
        except phone_codes.PhoneCodeError as exc:
            if exc.code == phone_codes.CodeProblem.GONE:
                return redirect("appointments:check")  # the hold ended just now: that page says so
            if exc.code in (phone_codes.CodeProblem.SMS_QUOTA, phone_codes.CodeProblem.ADDRESS_RATE):
                # The check page again, the details kept, saying when a code can be sent.
                return _check_page(request, slot, values, actor=None, refusal=exc)
            # A code to another number just now, or every code used: the page would name a number
            # that got none.
            return _code_refused(request, exc, None)
    return redirect("appointments:verify-phone")


def _send(request: HttpRequest, check: Any, phone: str, slot: Slot, values: dict[str, Any]) -> None:
    """A code by SMS for this booking, counted against the address (PHONE_CODE_RATE) only once it
    is about to be sent: raises PhoneCodeError."""
    phone_codes.send_code(
        check=check, phone=phone, office=slot.office, language=values["language"], limit=lambda: too_many_codes(request)
    )


def _code_context(request: HttpRequest, slot: Slot, phone: str, form: PhoneCodeForm) -> dict[str, Any]:
    return {
        "form": form,
        "slot": slot,
        "office": slot.office,
        # Kept on one line, as it is read.
        "phone": phone_html(phone),
        "key": session_state(request, BOOKING)["key"],
        "minutes": settings.PHONE_CODE_MINUTES,
        "hold_expires": hold_expiry(request),
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
    if staff_of(request, slot.office) is not None or not slot.office.verify_phone:
        return redirect("appointments:check")
    phone = e164(values)
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
                _send(request, check, phone, slot, values)
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


def _code_refused(
    request: HttpRequest, error: phone_codes.PhoneCodeError, context: dict[str, Any] | None
) -> HttpResponse:
    # When trying again can help: the next code may be sent, or (every code used) the hold has gone.
    return code_refused(
        request, error, template="appointments/book/phone_code.html", context=context, retry_at=hold_expiry(request)
    )
