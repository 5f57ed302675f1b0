"""Writes of the queue: check-in with a ticket number, calling, serving, no-shows, sending back to
the waiting list, and the end of an office's day.

Each action locks the appointment's row, re-checks, changes its status through
appointments.services.lifecycle (the transition table and the audit event) and updates the ticket,
in one durable transaction."""

import datetime
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from appointments import schedule
from appointments.errors import BookingError, ErrorCode
from appointments.lifecycle import Transition
from appointments.models import ACTIVE_STATUSES, Appointment, AppointmentEvent, Office, OpeningHours
from appointments.services.changes import DID_NOT_COME, OFFICE_CLOSED, end_missed_appointment
from appointments.services.lifecycle import change_status, lock_appointment
from appointments.services.places import bounded_lock_waits
from desk.models import Counter, DeskSettings, Ticket
from notifications.models import Notification
from notifications.services import notify

logger = logging.getLogger(__name__)
Status, By = Appointment.Status, AppointmentEvent.By


def desk_of(office: Office) -> DeskSettings:
    """The office's desk settings, made with the defaults the first time."""
    return DeskSettings.objects.get_or_create(office=office)[0]


def _local_time(office: Office, value: datetime.datetime) -> str:
    return date_format(value.astimezone(office.zone), "H:i")


def next_ticket_number(office_id: int, day: datetime.date) -> int:
    """The next number of the office's day, in the caller's transaction. One upsert takes the
    sequence row's lock, so simultaneous check-ins queue here and each gets the next number; a
    check-in that rolls back gives its number back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO desk_ticketsequence (office_id, day, last) VALUES (%s, %s, 1) "
            "ON CONFLICT (office_id, day) DO UPDATE SET last = desk_ticketsequence.last + 1 RETURNING last",
            [office_id, day],
        )
        return cursor.fetchone()[0]


def _appointment_at(office: Office, appointment_id: int) -> Appointment:
    appointment = lock_appointment(appointment_id)
    if appointment is None or appointment.office_id != office.pk:
        raise BookingError(_("This appointment is for another office."), code=ErrorCode.WRONG_PLACE)
    return appointment


def check_in(
    *, office: Office, appointment_id: int, actor: AbstractBaseUser, now: datetime.datetime | None = None
) -> Ticket:
    """Check the person in for today's appointment and give them the next ticket number."""
    now = now or timezone.now()
    desk = desk_of(office)
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _appointment_at(office, appointment_id)
        if appointment.status == Status.CANCELLED:
            raise BookingError(
                _("The appointment %(reference)s was cancelled: it cannot be checked in.")
                % {"reference": appointment.display_reference},
                code=ErrorCode.NOT_ALLOWED,
            )
        ticket = Ticket.objects.filter(appointment=appointment).first()
        if ticket is not None:
            raise BookingError(
                _("The appointment %(reference)s is already checked in, with ticket %(ticket)s.")
                % {"reference": appointment.display_reference, "ticket": ticket.code},
                code=ErrorCode.NOT_ALLOWED,
            )
        today = office.local_today(now)
        day = appointment.slot.local_start().date()
        if day != today:
            raise BookingError(
                _("The appointment %(reference)s is on %(day)s, not today.")
                % {"reference": appointment.display_reference, "day": date_format(day, "DATE_FORMAT")},
                code=ErrorCode.WRONG_PLACE,
            )
        opens, closes = desk.check_in_window(appointment.slot.starts_at)
        if now < opens:
            raise BookingError(
                _("Check-in for %(reference)s opens at %(time)s.")
                % {"reference": appointment.display_reference, "time": _local_time(office, opens)},
                code=ErrorCode.NOT_NOW,
            )
        if now > closes:
            raise BookingError(
                _("Check-in for %(reference)s closed at %(time)s: the person came too late for this appointment.")
                % {"reference": appointment.display_reference, "time": _local_time(office, closes)},
                code=ErrorCode.NOT_NOW,
            )
        number = next_ticket_number(office.pk, today)
        ticket = Ticket.objects.create(
            appointment=appointment,
            office=office,
            day=today,
            prefix=desk.ticket_prefix,
            number=number,
            checked_in_at=now,
        )
        change_status(appointment, Transition.CHECK_IN, actor=actor, now=now, ticket=ticket.code)
        return ticket


def _ticket(office: Office, ticket_id: int) -> tuple[Ticket, Appointment]:
    appointment_id = Ticket.objects.filter(pk=ticket_id, office=office).values_list("appointment_id", flat=True)
    if not appointment_id:
        raise BookingError(_("This ticket is not one of this office's."), code=ErrorCode.WRONG_PLACE)
    appointment = _appointment_at(office, appointment_id[0])
    # Read after the appointment's lock: every change to a ticket is made under it.
    return Ticket.objects.get(pk=ticket_id), appointment


def _counter(office: Office, counter_id: int | None) -> Counter:
    counter = Counter.objects.filter(pk=counter_id, office=office, active=True).first() if counter_id else None
    if counter is None:
        raise BookingError(_("Choose one of this office's counters."), code=ErrorCode.INVALID)
    return counter


def _call(ticket: Ticket, appointment: Appointment, counter: Counter, actor: AbstractBaseUser, now: datetime.datetime):
    transition = Transition.RECALL if appointment.status == Status.CALLED else Transition.CALL
    change_status(appointment, transition, actor=actor, now=now, ticket=ticket.code, counter=counter.number)
    ticket.counter = counter
    ticket.called_at = now
    ticket.first_called_at = ticket.first_called_at or now
    ticket.times_called += 1
    ticket.save(update_fields=["counter", "called_at", "first_called_at", "times_called"])
    if desk_of(appointment.office).call_sms:  # the office came with the appointment's lock
        # Sent after commit, through the outbox, in the person's language; a call again re-sends it.
        notify(
            appointment=appointment,
            kind=Notification.Kind.TURN,
            now=now,
            details={"ticket": ticket.code, "counter": counter.number},
        )
    return ticket


def call_next(
    *, office: Office, counter_id: int | None, actor: AbstractBaseUser, now: datetime.datetime | None = None
) -> Ticket:
    """Call the ticket that has waited longest to the counter. Two desks pressing at the same moment
    call two different people: a ticket another desk is calling is skipped, not waited for."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        counter = _counter(office, counter_id)
        # The appointment's row is locked first, as every other desk action does; one that
        # another desk is calling at this moment is stepped over, not waited for.
        waiting = Appointment.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            office=office, status=Status.CHECKED_IN, ticket__day=office.local_today(now)
        )
        appointment = waiting.select_related("slot", "office").order_by("ticket__checked_in_at", "ticket__number")
        appointment = appointment.first()
        if appointment is None:
            raise BookingError(_("Nobody is waiting."), code=ErrorCode.NOT_ALLOWED)
        return _call(Ticket.objects.get(appointment=appointment), appointment, counter, actor, now)


def call_ticket(
    *,
    office: Office,
    ticket_id: int,
    counter_id: int | None,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Call this ticket to the counter (again, if it was called already)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        counter = _counter(office, counter_id)
        ticket, appointment = _ticket(office, ticket_id)
        return _call(ticket, appointment, counter, actor, now)


def finish_ticket(
    *,
    office: Office,
    ticket_id: int,
    transition: Transition,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Serve, mark as no-show, or send back to the waiting list."""
    if transition not in {Transition.SERVE, Transition.NO_SHOW, Transition.REQUEUE}:
        raise ValueError(transition)
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        ticket, appointment = _ticket(office, ticket_id)
        change_status(appointment, transition, actor=actor, now=now, ticket=ticket.code)
        if transition == Transition.REQUEUE:
            ticket.counter = None
            ticket.save(update_fields=["counter"])
        else:
            ticket.finished_at = now
            ticket.save(update_fields=["finished_at"])
        return ticket


def mark_no_show(
    *, office: Office, appointment_id: int, actor: AbstractBaseUser, now: datetime.datetime | None = None
) -> Appointment:
    """A booked person who did not come, once their time has passed."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _appointment_at(office, appointment_id)
        if appointment.status == Status.BOOKED and appointment.slot.starts_at > now:
            raise BookingError(
                _("The appointment %(reference)s is at %(time)s: it can be marked as a no-show after that.")
                % {"reference": appointment.display_reference, "time": _local_time(office, appointment.slot.starts_at)},
                code=ErrorCode.NOT_NOW,
            )
        change_status(appointment, Transition.NO_SHOW, actor=actor, now=now)
        Ticket.objects.filter(appointment=appointment).update(finished_at=now)
        return appointment


# ---------------------------------------------------------------------------------------------
# End of day
# ---------------------------------------------------------------------------------------------
STILL_WAITING = "still_waiting_at_closing"


def day_bounds(office: Office, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    return (
        schedule.to_utc(day, datetime.time(), office.zone),
        schedule.to_utc(day + datetime.timedelta(days=1), datetime.time(), office.zone),
    )


def close_day(*, office: Office, day: datetime.date, now: datetime.datetime | None = None) -> dict[str, int]:
    """The office's day is over: booked appointments nobody checked in for become no-shows, and
    tickets still waiting or called are closed with a reason. Each appointment in its own
    transaction; running it twice changes nothing more."""
    now = now or timezone.now()
    start, end = day_bounds(office, day)
    ids = Appointment.objects.filter(
        office=office, status__in=ACTIVE_STATUSES, slot__starts_at__gte=start, slot__starts_at__lt=end
    ).values_list("pk", flat=True)
    counts = {DID_NOT_COME: 0, OFFICE_CLOSED: 0, STILL_WAITING: 0}
    for appointment_id in list(ids):
        try:
            reason = _close_one(appointment_id, now)
        except BookingError as exc:
            # A desk holds the row right now: the next run (5 minutes) closes it; the others go on.
            logger.warning("end of day postponed appointment=%s code=%s", appointment_id, exc.code)
            continue
        if reason is not None:
            counts[reason] += 1
    return counts


def _close_one(appointment_id: int, now: datetime.datetime) -> str | None:
    """Close one appointment of a finished day; returns the reason, or None if nothing was left."""
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = lock_appointment(appointment_id)
        if appointment is None or appointment.status not in ACTIVE_STATUSES:
            return None  # changed since the list was read
        if appointment.status == Status.BOOKED:
            return end_missed_appointment(appointment, now=now)
        change_status(appointment, Transition.NO_SHOW, by=By.SYSTEM, now=now, reason=STILL_WAITING)
        Ticket.objects.filter(appointment=appointment).update(
            finished_at=now, closed_reason=Ticket.Closed.STILL_WAITING
        )
        return STILL_WAITING


def day_ends_at(office: Office, day: datetime.date) -> datetime.datetime:
    """When the end-of-day run may close the office's day: its last closing time that weekday plus
    the grace period, or midnight on a day without hours."""
    closes = (
        OpeningHours.objects.filter(office=office, weekday=day.weekday())
        .order_by("-closes")
        .values_list("closes", flat=True)
        .first()
    )
    grace = datetime.timedelta(minutes=desk_of(office).closing_grace_minutes)
    if closes is None:
        return day_bounds(office, day)[1]
    return schedule.to_utc(day, closes, office.zone) + grace


def close_finished_days(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Every office whose day is over (at its own evening, in its own zone), and any earlier day
    left open (the task did not run): close it. Idempotent."""
    now = now or timezone.now()
    totals = {DID_NOT_COME: 0, OFFICE_CLOSED: 0, STILL_WAITING: 0}
    for office in Office.objects.all():
        starts = Appointment.objects.filter(
            office=office, status__in=ACTIVE_STATUSES, slot__starts_at__lt=now
        ).values_list("slot__starts_at", flat=True)
        # A day ends at its own closing time plus grace, which may be past midnight.
        for day in sorted({start.astimezone(office.zone).date() for start in starts}):
            if now >= day_ends_at(office, day):
                for reason, count in close_day(office=office, day=day, now=now).items():
                    totals[reason] += count
    return totals
