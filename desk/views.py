"""The desk's pages in the admin (office-scoped) and the public calling screen.

Staff reach only the offices they are listed on: any other office's id is a 404. Searches and scans
are POSTs, so what staff type (names, phones, references) never lands in a URL or an access log."""

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from appointments.admin import visible_offices
from appointments.errors import BookingError, ErrorCode
from appointments.forms import SlotForm
from appointments.lifecycle import Transition
from appointments.models import Appointment, Office, Slot
from appointments.selectors import with_places_left
from appointments.services.booking import hold_slot
from appointments.services.lifecycle import log_office_event
from appointments.views.common import BOOKING, DESK_RETURN, parse_uuid, save_state, session_state
from core.text import is_ascii_digits
from desk import selectors, services
from desk.forms import CounterForm, DayForm, FindForm
from desk.models import DeskSettings, Ticket, new_screen_key
from eligibility.models import Screening

VIEW, CHANGE = "desk.view_ticket", "desk.change_ticket"
SCREEN_REFRESH_SECONDS = 5
ACTIONS = {"serve": Transition.SERVE, "no-show": Transition.NO_SHOW, "requeue": Transition.REQUEUE}


def _office(request: HttpRequest, office_id: int, permission: str = VIEW) -> Office:
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return get_object_or_404(visible_offices(request), pk=office_id)


def _queue_url(office: Office, day: datetime.date | None = None) -> str:
    url = reverse("admin:desk_queue", args=[office.pk])
    return f"{url}?day={day.isoformat()}" if day and day != office.local_today(timezone.now()) else url


def _day(request: HttpRequest, office: Office) -> datetime.date:
    form = DayForm(request.GET)
    return form.cleaned_data["day"] if form.is_valid() else office.local_today(timezone.now())


def choose_office(request: HttpRequest) -> HttpResponse:
    """The queue of the user's office; a choice when they have several."""
    if not request.user.has_perm(VIEW):
        raise PermissionDenied
    offices = list(visible_offices(request))
    chosen = request.GET.get("office", "")
    if is_ascii_digits(chosen) and any(office.pk == int(chosen) for office in offices):
        return redirect("admin:desk_queue", int(chosen))
    if len(offices) == 1:
        return redirect("admin:desk_queue", offices[0].pk)
    return render(request, "desk/choose_office.html", {**_admin_context(request), "offices": offices})


def _admin_context(request: HttpRequest) -> dict[str, Any]:
    # The admin's templates read the model's options for the breadcrumbs.
    # No navigation sidebar: the queue needs the whole width of a 1280-pixel screen.
    context = {**admin.site.each_context(request), "opts": Ticket._meta}  # noqa: SLF001
    return {**context, "is_nav_sidebar_enabled": False}


def _render_queue(
    request: HttpRequest, office: Office, day: datetime.date, *, found: list | None = None, find_form=None, status=200
) -> HttpResponse:
    now = timezone.now()
    rows, counts = selectors.day_queue(office=office, day=day, now=now, language=translation.get_language())
    today = office.local_today(now)
    return render(
        request,
        "desk/queue.html",
        {
            **_admin_context(request),
            "title": _("Queue: %(office)s") % {"office": office.name},
            "office": office,
            "desk": services.desk_of(office),
            "day": day,
            "is_today": day == today,
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "rows": rows,
            "counts": counts,
            "found": found,
            "quick_check_in": _quick_check_in(request, office, found, today),
            "find_form": find_form or FindForm(),
            "counter_form": CounterForm(office=office, initial=_my_counter(request, office)),
            "can_change": request.user.has_perm(CHANGE),
            "offices": visible_offices(request) if request.user.has_perm("appointments.view_all_offices") else None,
        },
        status=status,
    )


def _quick_check_in(request: HttpRequest, office: Office, found: list | None, today: datetime.date) -> Any:
    """The one appointment a scan found, when it can be checked in now: its button comes right
    after the scan field (scan, Tab, Enter). The focus stays in the scan field, so the scanner's
    own Enter on the next scan searches again and never checks anyone in."""
    if not found or len(found) != 1 or not request.user.has_perm(CHANGE):
        return None
    appointment = found[0].appointment
    if appointment.status != Appointment.Status.BOOKED or appointment.slot.local_start().date() != today:
        return None
    return appointment


def _my_counter(request: HttpRequest, office: Office) -> dict[str, Any]:
    """The counter this member of staff last used at this office (kept in their session)."""
    counter_id = request.session.get(f"desk-counter-{office.pk}")
    return {"counter": counter_id} if counter_id else {}


@require_safe
def queue(request: HttpRequest, office_id: int) -> HttpResponse:
    office = _office(request, office_id)
    return _render_queue(request, office, _day(request, office))


def find(request: HttpRequest, office_id: int) -> HttpResponse:
    """A scan or a search (POST only: what is typed stays out of URLs and logs)."""
    office = _office(request, office_id)
    if request.method != "POST":
        return redirect("admin:desk_queue", office.pk)
    form = FindForm(request.POST)
    today = office.local_today(timezone.now())
    if not form.is_valid():
        return _render_queue(request, office, today, find_form=form, status=400)
    found = selectors.find(
        office=office, text=form.cleaned_data["q"], now=timezone.now(), language=translation.get_language()
    )
    if not found:
        messages.warning(request, _("No appointment at this office matches what was typed."))
    return _render_queue(request, office, today, found=found, find_form=FindForm())


def _act(
    request: HttpRequest,
    office_id: int,
    action: Callable[[Office], str],
    *,
    appointment_id: int | None = None,
    ticket_id: int | None = None,
) -> HttpResponseRedirect:
    office = _office(request, office_id, CHANGE)
    # Another office's appointment or ticket is not found here, whatever its id.
    if appointment_id is not None:
        get_object_or_404(Appointment.objects.only("pk"), pk=appointment_id, office=office)
    if ticket_id is not None:
        get_object_or_404(Ticket.objects.only("pk"), pk=ticket_id, office=office)
    try:
        messages.success(request, action(office))
    except BookingError as exc:
        if exc.code == ErrorCode.BUSY:
            messages.error(
                request, _("Another desk is changing this at the same moment. Nothing was changed: please try again.")
            )
        else:
            messages.error(request, exc.message)
    return redirect(_queue_url(office))


def _counter_id(request: HttpRequest, office: Office) -> int | None:
    form = CounterForm(request.POST, office=office)
    if not form.is_valid():
        return None
    request.session[f"desk-counter-{office.pk}"] = form.cleaned_data["counter"].pk
    return form.cleaned_data["counter"].pk


@require_POST
def check_in(request: HttpRequest, office_id: int, appointment_id: int) -> HttpResponse:
    def action(office: Office) -> str:
        ticket = services.check_in(office=office, appointment_id=appointment_id, actor=request.user)
        return _("Checked in: ticket %(ticket)s.") % {"ticket": ticket.code}

    response = _act(request, office_id, action, appointment_id=appointment_id)
    ticket = Ticket.objects.filter(appointment_id=appointment_id, office_id=office_id).first()
    if ticket is not None and request.POST.get("print"):
        return redirect("admin:desk_ticket_print", office_id, ticket.pk)
    return response


@require_POST
def call_next(request: HttpRequest, office_id: int) -> HttpResponse:
    def action(office: Office) -> str:
        ticket = services.call_next(office=office, counter_id=_counter_id(request, office), actor=request.user)
        return _("Ticket %(ticket)s called to counter %(counter)s.") % {
            "ticket": ticket.code,
            "counter": ticket.counter.number,
        }

    return _act(request, office_id, action)


@require_POST
def ticket_action(request: HttpRequest, office_id: int, ticket_id: int, action_name: str) -> HttpResponse:
    def action(office: Office) -> str:
        if action_name == "call":
            ticket = services.call_ticket(
                office=office, ticket_id=ticket_id, counter_id=_counter_id(request, office), actor=request.user
            )
            return _("Ticket %(ticket)s called to counter %(counter)s.") % {
                "ticket": ticket.code,
                "counter": ticket.counter.number,
            }
        transition = ACTIONS.get(action_name)
        if transition is None:
            raise BookingError(_("Unknown action."))
        ticket = services.finish_ticket(office=office, ticket_id=ticket_id, transition=transition, actor=request.user)
        return {
            Transition.SERVE: _("Ticket %(ticket)s served."),
            Transition.NO_SHOW: _("Ticket %(ticket)s marked as a no-show."),
            Transition.REQUEUE: _("Ticket %(ticket)s is back on the waiting list."),
        }[transition] % {"ticket": ticket.code}

    return _act(request, office_id, action, ticket_id=ticket_id)


@require_POST
def no_show(request: HttpRequest, office_id: int, appointment_id: int) -> HttpResponse:
    def action(office: Office) -> str:
        appointment = services.mark_no_show(office=office, appointment_id=appointment_id, actor=request.user)
        return _("%(reference)s marked as a no-show.") % {"reference": appointment.display_reference}

    return _act(request, office_id, action, appointment_id=appointment_id)


@require_safe
def ticket_slip(request: HttpRequest, office_id: int, ticket_id: int) -> HttpResponse:
    """The printed slip: ticket, office, time; no name or other personal data."""
    office = _office(request, office_id)
    ticket = get_object_or_404(Ticket.objects.select_related("appointment__slot"), pk=ticket_id, office=office)
    return render(request, "desk/ticket_slip.html", {"office": office, "ticket": ticket})


@require_safe
def day_list(request: HttpRequest, office_id: int) -> HttpResponse:
    """The printable day list: time, reference, name, party size, status, ticket."""
    office = _office(request, office_id)
    day = _day(request, office)
    rows, counts = selectors.day_queue(office=office, day=day, now=timezone.now(), language=translation.get_language())
    return render(request, "desk/day_list.html", {"office": office, "day": day, "rows": rows, "counts": counts})


def screen_settings(request: HttpRequest, office_id: int) -> HttpResponse:
    """The calling screen's link, and a new one when the old may have leaked."""
    office = _office(request, office_id)
    desk = services.desk_of(office)
    if request.method == "POST":
        if not request.user.has_perm(CHANGE):
            raise PermissionDenied
        with transaction.atomic():
            DeskSettings.objects.filter(pk=desk.pk).update(screen_key=new_screen_key())
        log_office_event(office=office, action="screen_link_rotated", actor=request.user)
        messages.success(request, _("The calling screen has a new link; the old one no longer works."))
        return redirect("admin:desk_screen_settings", office.pk)
    url = request.build_absolute_uri(reverse("desk:screen", args=[desk.screen_key]))
    return render(
        request,
        "desk/screen_settings.html",
        {**_admin_context(request), "title": _("Calling screen"), "office": office, "screen_url": url},
    )


@require_safe
def screen(request: HttpRequest, key: str) -> HttpResponse:
    """The waiting-room TV: the latest tickets called and their counters, in Spanish and English,
    refreshing itself. No names or any personal data; opened by a secret link, no sign-in."""
    desk = get_object_or_404(DeskSettings.objects.select_related("office"), screen_key=key[:64])
    office = desk.office
    called = list(selectors.last_called(office, day=office.local_today(timezone.now())))
    response = render(
        request,
        "desk/screen.html",
        {"office": office, "latest": called[0] if called else None, "earlier": called[1:]},
    )
    # Reloads itself every few seconds without JavaScript (TV browsers). The Refresh header does
    # what <meta http-equiv="refresh"> does; this page is a real-time display with nothing to read
    # at length or to fill in (WCAG 2.2.1's real-time exception).
    response["Refresh"] = str(SCREEN_REFRESH_SECONDS)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def walk_in(request: HttpRequest, office_id: int) -> HttpResponse:
    """Book a free place of today for a person at the desk (offices that allow it), or a person
    on the phone: the desk answers the questions with the person, chooses one of today's times
    here, then fills in the details on the booking pages, signed in, so the booking is recorded as
    made by this member of staff through the same booking service."""
    office = _office(request, office_id, CHANGE)
    desk = services.desk_of(office)
    context = {**_admin_context(request), "title": _("Book a person at the desk"), "office": office, "desk": desk}
    if not desk.walk_ins:
        return render(request, "desk/walk_in.html", context, status=403)
    booking = session_state(request, BOOKING)
    screening = Screening.objects.filter(pk=booking.get("screening")).first() if booking.get("screening") else None
    now = timezone.now()
    if request.method == "POST" and request.POST.get("start"):
        # After the result's "Book an appointment", the booking start brings staff back here.
        request.session[DESK_RETURN] = request.path
        request.session.pop(BOOKING, None)
        return redirect("eligibility:begin")
    _start, today_end = services.day_bounds(office, office.local_today(now))
    slots = list(
        with_places_left(
            Slot.objects.filter(office=office, starts_at__gt=now, starts_at__lt=today_end, capacity__gt=0), now
        ).order_by("starts_at")
    )
    form = SlotForm(request.POST or None, slots=slots)
    if request.method == "POST" and screening is not None and form.is_valid():
        try:
            hold = hold_slot(
                slot_id=form.cleaned_data["slot"],
                screening=screening,
                replaces=parse_uuid(booking.get("hold")),
                walk_in=True,
            )
        except BookingError as exc:
            messages.error(request, exc.message)
            return redirect("admin:desk_walk_in", office.pk)
        save_state(request, BOOKING, slot=hold.slot_id, hold=str(hold.token), walk_in=True)
        return redirect("appointments:people")
    return render(
        request,
        "desk/walk_in.html",
        {**context, "screening": screening, "form": form, "eligible": screening and screening.eligible_pathways},
        status=400 if form.errors and screening is not None else 200,
    )
