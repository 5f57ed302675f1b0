"""Reads of the queue: a day's appointments with their tickets and counts, and finding a person."""

import datetime
from dataclasses import dataclass, field

import phonenumbers
from django.db.models import Q, QuerySet

from appointments.models import Appointment, Office
from core.text import normalise_code, without_controls
from desk.models import Ticket
from desk.services import day_bounds

Status = Appointment.Status
SEARCH_LIMIT = 20


@dataclass
class Counts:
    expected: int = 0
    arrived: int = 0
    waiting: int = 0
    at_counter: int = 0
    served: int = 0
    no_show: int = 0


@dataclass
class Row:
    appointment: Appointment
    ticket: Ticket | None
    pathways: list[str] = field(default_factory=list)
    waiting_minutes: int | None = None


def _pathways(appointment: Appointment, served: set[str], language: str) -> list[str]:
    outcomes = sorted(appointment.screening.outcomes.items(), key=lambda item: item[1].get("order", 0))
    return [
        outcome.get("name", {}).get(language, code)
        for code, outcome in outcomes
        if outcome.get("eligible") and code in served
    ]


def _with_details(
    appointments: QuerySet[Appointment], office: Office, now: datetime.datetime, language: str
) -> list[Row]:
    served = set(office.pathways.values_list("code", flat=True))
    rows = []
    for appointment in appointments.select_related("slot", "screening", "ticket__counter"):
        ticket = getattr(appointment, "ticket", None)
        waiting = None
        if ticket is not None and appointment.status == Status.CHECKED_IN:
            waiting = int((now - ticket.checked_in_at).total_seconds() // 60)
        rows.append(Row(appointment, ticket, _pathways(appointment, served, language), waiting))
    return rows


def day_queue(*, office: Office, day: datetime.date, now: datetime.datetime, language: str) -> tuple[list[Row], Counts]:
    """Every appointment of the office's day by time (cancelled ones last), and the counts."""
    start, end = day_bounds(office, day)
    appointments = Appointment.objects.filter(office=office, slot__starts_at__gte=start, slot__starts_at__lt=end)
    rows = _with_details(appointments.order_by("slot__starts_at", "full_name", "pk"), office, now, language)
    counts = Counts()
    for row in rows:
        status = row.appointment.status
        if status == Status.CANCELLED:
            continue
        counts.expected += 1
        counts.arrived += row.ticket is not None
        counts.waiting += status == Status.CHECKED_IN
        counts.at_counter += status == Status.CALLED
        counts.served += status == Status.SERVED
        counts.no_show += status == Status.NO_SHOW
    rows.sort(key=lambda row: row.appointment.status == Status.CANCELLED)
    return rows, counts


def find(*, office: Office, text: str, now: datetime.datetime, language: str) -> list[Row]:
    """The office's appointments that match a reference (with or without dashes, any case), a
    document number or a phone number (compared as they are stored), or part of a name. Today's
    first, then the nearest days."""
    text = without_controls(text).strip()[:100]
    code = normalise_code(text)
    wanted = Q()
    if len(code) >= 4:
        wanted |= Q(reference=code) | Q(document_number=code)
    try:
        phone = phonenumbers.parse(text, office.country.code)
        if phonenumbers.is_valid_number(phone):
            wanted |= Q(phone=phonenumbers.format_number(phone, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    if len(text) >= 3:
        wanted |= Q(full_name__icontains=text)
    if not wanted:
        return []
    start, _end = day_bounds(office, office.local_today(now))
    # The nearest matches on either side of today, limited in the database (a common name can
    # match thousands of appointments over the years).
    matches = Appointment.objects.filter(wanted, office=office).values_list("pk", "slot__starts_at")
    later = matches.filter(slot__starts_at__gte=start).order_by("slot__starts_at")[:SEARCH_LIMIT]
    earlier = matches.filter(slot__starts_at__lt=start).order_by("-slot__starts_at")[:SEARCH_LIMIT]
    found = sorted([*later, *earlier], key=lambda item: abs(item[1] - start))
    ids = [pk for pk, _ in found[:SEARCH_LIMIT]]
    rows = _with_details(Appointment.objects.filter(pk__in=ids), office, now, language)
    rows.sort(key=lambda row: ids.index(row.appointment.pk))
    return rows


def last_called(office: Office, *, day: datetime.date, count: int = 8) -> QuerySet[Ticket]:
    """What the calling screen shows: the latest calls, newest first (no personal data)."""
    return (
        Ticket.objects.filter(office=office, day=day, called_at__isnull=False, appointment__status=Status.CALLED)
        .select_related("counter")
        .order_by("-called_at")[:count]
    )
