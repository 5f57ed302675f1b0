"""Manage pages: reference + date of birth, or a signed link → the appointment page → cancel, or
move to another time."""

import datetime
import hmac
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from appointments import calendar, selectors
from appointments.errors import BookingError, ErrorCode
from appointments.forms import (
    ConfirmForm,
    ManageForm,
    SlotForm,
)
from appointments.links import appointment_from_token, signed_parts
from appointments.models import Appointment, Office, OpeningHours, Slot
from appointments.services.booking import hold_slot
from appointments.services.changes import cancel_appointment, move_appointment
from appointments.services.erasure import erase_own_data
from appointments.views.common import (
    GET_POST,
    JUST_BOOKED,
    MANAGE,
    MOVE,
    busy,
    changed_here,
    day_or_redirect,
    opened_appointment,
    parse_uuid,
    problem,
    session_state,
    show_appointment,
    too_many,
    too_many_holds,
    with_urls,
)
from core.limits import over_limit, refused, try_again


@GET_POST
def manage(request: HttpRequest) -> HttpResponse:
    """Find an appointment by reference and date of birth. A wrong reference and a wrong date of
    birth get the same answer after the same work (one query, one constant-time comparison)."""
    form = ManageForm(request.POST or None)
    if request.method == "POST":
        # Dates of birth must not be tried at will: without Redis to count, no lookup (fails closed).
        wait = over_limit(request, group="appointments.manage", rate=settings.MANAGE_LOOKUP_RATE, fail_closed=True)
        if wait is not None:
            # The form again, as typed, saying when to try again.
            messages.error(request, f"{_('Too many attempts from this connection.')} {try_again(wait)}")
            return refused(render(request, "appointments/manage/lookup.html", {"form": form}), wait)
        if form.is_valid():
            appointment = Appointment.objects.filter(reference=form.cleaned_data["reference"]).first()
            # An appointment whose personal data is erased has no date of birth: never found.
            born = appointment.date_of_birth.isoformat() if appointment and appointment.date_of_birth else "0000-00-00"
            if hmac.compare_digest(born, form.cleaned_data["date_of_birth"].isoformat()) and appointment:
                return show_appointment(request, appointment)
            form.add_error(None, _("We could not find an appointment with this reference and date of birth."))
    return render(request, "appointments/manage/lookup.html", {"form": form}, status=400 if form.errors else 200)


@require_safe
def manage_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        appointment = appointment_from_token(token)
    except BookingError as exc:
        return problem(request, exc.message, status=400)
    return show_appointment(request, appointment, by_link=True)


@require_safe
def short_link(request: HttpRequest, token: str) -> HttpResponse:
    """The manage link in SMS messages, without a language: continue in the applicant's one. The
    language is read only once the link's HMAC is checked: a made-up or altered link gets the same
    answer whether its appointment exists or not, and never learns its language."""
    signed = signed_parts(token)
    language = Appointment.objects.filter(pk=signed[0]).values_list("language", flat=True).first() if signed else None
    with translation.override(language or settings.LANGUAGE_CODE):
        return redirect("appointments:manage-link", token=token)


@require_POST
def close(request: HttpRequest) -> HttpResponse:
    """ "Close this appointment on this device": on a shared phone, the next person sees nothing.
    An applicant's session is emptied and replaced (answers, a booking in progress and the
    appointment); staff booking on someone's behalf stay signed in."""
    if request.user.is_authenticated:
        for name in (MANAGE, MOVE, JUST_BOOKED):
            request.session.pop(name, None)
        request.session.cycle_key()
    else:
        request.session.flush()
    messages.success(
        request,
        _(
            "Your appointment is closed on this device. To see it again, use your reference and date of birth, "
            "or the link in your latest message."
        ),
    )
    return redirect("appointments:manage")


def manage_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        appointment = opened_appointment(request)
        if appointment is None:
            return redirect("appointments:manage")
        return view(request, appointment, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _changeable(appointment: Appointment) -> bool:
    return appointment.status == Appointment.Status.BOOKED and appointment.slot.starts_at > timezone.now()


def _movable(appointment: Appointment) -> bool:
    """Changeable, at a first-come office: a lottery office's places go by its draw, so its
    appointments are not moved to another free time (which would skip the order); cancelling
    passes the place down the order."""
    return _changeable(appointment) and appointment.slot.office.allocation == Office.Allocation.FIRST_COME


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
            "movable": _movable(appointment),
            "hours": opening_hours(office),
            "just_booked": request.session.pop(JUST_BOOKED, None) == appointment.pk,
            "idle_minutes": settings.MANAGE_SESSION_IDLE_MINUTES,
        },
    )


def opening_hours(office: Office) -> list[tuple[str, str]]:
    """The office's week in words: each weekday with its opening ranges, days with the same
    ranges run together ("Monday to Friday")."""
    days: dict[int, list[str]] = {}
    for hours in office.hours.order_by("weekday", "opens"):
        days.setdefault(hours.weekday, []).append(f"{hours.opens:%H:%M}–{hours.closes:%H:%M}")
    rows: list[tuple[str, str]] = []
    run: list[int] = []
    for weekday in [*sorted(days), None]:
        if run and (weekday is None or weekday != run[-1] + 1 or days[weekday] != days[run[0]]):
            first, last = OpeningHours.Weekday(run[0]).label, OpeningHours.Weekday(run[-1]).label
            label = str(first) if len(run) == 1 else _("%(first)s to %(last)s") % {"first": first, "last": last}
            rows.append((label, ", ".join(days[run[0]])))
            run = []
        if weekday is not None:
            run.append(weekday)
    return rows


@require_safe
@manage_view
def calendar_file(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    """The event to add; once the appointment is cancelled, the file that cancels it."""
    if appointment.status not in (Appointment.Status.BOOKED, Appointment.Status.CANCELLED):
        raise Http404
    response = HttpResponse(
        calendar.ics(appointment, language=request.LANGUAGE_CODE), content_type=calendar.content_type(appointment)
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
    form = ConfirmForm(request.POST or None, initial={"revision": appointment.revision})
    if request.method == "POST":
        if not form.is_valid():
            return _change_failed(request, BookingError(_("Please try again."), code=ErrorCode.STALE))
        try:
            cancelled = cancel_appointment(
                appointment_id=appointment.pk, expected_revision=form.cleaned_data["revision"]
            )
        except BookingError as exc:
            return _change_failed(request, exc)
        changed_here(request, cancelled)
        # The page itself says it, once: no second message above it.
        return redirect("appointments:appointment")
    return render(
        request,
        "appointments/manage/cancel.html",
        {"appointment": appointment, "office": appointment.slot.office, "form": form},
    )


@require_safe
@manage_view
def move_day(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    if not _movable(appointment):
        return redirect("appointments:appointment")
    office = appointment.slot.office
    return render(
        request,
        "appointments/book/day.html",
        {
            "office": office,
            "days": with_urls(
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
    if not _movable(appointment):
        return redirect("appointments:appointment")
    office = appointment.slot.office
    days_url = reverse("appointments:move-day")
    day = day_or_redirect(request, office, date, days_url)
    if isinstance(day, HttpResponse):
        return day
    day.slots = [slot for slot in day.slots if slot.pk != appointment.slot_id]
    form = SlotForm(request.POST or None, slots=day.slots)
    wait = too_many_holds(request) if request.method == "POST" else None
    if wait is not None:
        return too_many(request, wait)
    if request.method == "POST" and form.is_valid():
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"],
                screening=appointment.screening,
                replaces=parse_uuid(session_state(request, MOVE).get("hold")),
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
    move = session_state(request, MOVE)
    new_slot = Slot.objects.select_related("office").filter(pk=move.get("slot")).first()
    if not _movable(appointment) or new_slot is None:
        return redirect("appointments:appointment")
    form = ConfirmForm(request.POST or None, initial={"revision": appointment.revision})
    if request.method == "POST":
        if not form.is_valid():
            return _change_failed(request, BookingError(_("Please try again."), code=ErrorCode.STALE))
        try:
            moved = move_appointment(
                appointment_id=appointment.pk,
                slot_id=new_slot.pk,
                expected_revision=form.cleaned_data["revision"],
                hold=parse_uuid(move.get("hold")),
            )
        except BookingError as exc:
            request.session.pop(MOVE, None)
            if exc.code in ("full", "unavailable"):
                messages.error(request, exc.message)
                return redirect("appointments:move-day")
            return _change_failed(request, exc)
        request.session.pop(MOVE, None)
        changed_here(request, moved)
        messages.success(request, _("Your appointment was moved. Your previous time is free for someone else."))
        return redirect("appointments:appointment")
    return render(
        request,
        "appointments/manage/move_confirm.html",
        {"appointment": appointment, "office": new_slot.office, "new_slot": new_slot, "form": form},
    )


@GET_POST
@manage_view
def delete_data(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    """After cancelling, the person deletes their own data at once (the nightly run would do it
    RETENTION_DAYS after the appointment's time)."""
    if appointment.status != Appointment.Status.CANCELLED:
        return redirect("appointments:appointment")
    form = ConfirmForm(request.POST or None, initial={"revision": appointment.revision})
    if request.method == "POST":
        if not form.is_valid() or form.cleaned_data["revision"] != appointment.revision:
            return _change_failed(request, BookingError(_("Please try again."), code=ErrorCode.STALE))
        if not erase_own_data(appointment=appointment):
            # Changed meanwhile (booked again from another device): nothing was deleted.
            return _change_failed(request, BookingError(_("Please try again."), code=ErrorCode.STALE))
        # Nothing left to show: this browser no longer has an appointment open.
        request.session.pop(MANAGE, None)
        return render(request, "appointments/manage/delete_data.html", {"deleted": True})
    context = {"form": form, "retention_days": settings.RETENTION_DAYS}
    return render(request, "appointments/manage/delete_data.html", context)
