"""Counting appointments into anonymous tallies: one per office, local day and kind of applicant
(the first pathway their screening found, nationality, host country). The daily statistics store
these tallies for days already counted; the report counts the other days (today, the days to come)
the same way, so both give the same figures.

Times are kept as histograms (booking to appointment in whole hours, check-in to call in whole
minutes) so that medians and 90th percentiles can still be read once the appointments' personal
data is gone."""

import datetime
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate

from appointments.models import Appointment, AppointmentEvent, Office
from desk.models import Ticket
from eligibility.models import Pathway

Status = Appointment.Status
# The person came; and appointments whose time has come, attended or not.
ATTENDED = (Status.CHECKED_IN, Status.CALLED, Status.SERVED)
PAST = (*ATTENDED, Status.NO_SHOW)
HOUR, MINUTE = 3600, 60

# Waiting ends at the first call (a call again, when the person did not come to the counter, does
# not make the wait longer); a ticket written with only its last call still counts by that.
FIRST_CALL = Coalesce("first_called_at", "called_at")

# office id, local day, first eligible pathway, nationality, host country
Key = tuple[int, datetime.date, str, str, str]


@dataclass
class Tally:
    booked: int = 0
    cancelled: int = 0
    attended: int = 0
    served: int = 0
    no_show: int = 0
    moved: int = 0
    lead_seconds: int = 0
    wait_seconds: int = 0
    waits: int = 0
    lead_hours: Counter = field(default_factory=Counter)
    wait_minutes: Counter = field(default_factory=Counter)

    def add(self, other: "Tally") -> None:
        for name in ("booked", "cancelled", "attended", "served", "no_show", "moved"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lead_seconds += other.lead_seconds
        self.wait_seconds += other.wait_seconds
        self.waits += other.waits
        self.lead_hours.update(other.lead_hours)
        self.wait_minutes.update(other.wait_minutes)

    @property
    def no_show_rate(self) -> float | None:
        """No-shows among the appointments whose time has come."""
        return rate(self.no_show, self.attended + self.no_show)

    @property
    def cancellation_rate(self) -> float | None:
        return rate(self.cancelled, self.booked)

    @property
    def lead(self) -> "Spread":
        return spread(self.lead_hours, HOUR)

    @property
    def wait(self) -> "Spread":
        return spread(self.wait_minutes, MINUTE)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Spread:
    """Median and 90th percentile, in seconds (None without data)."""

    median: float | None = None
    p90: float | None = None


def percentile(histogram: Counter, fraction: float) -> int | None:
    """The nearest-rank percentile of a histogram {value: count}: the smallest value with at least
    that fraction of the counts at or below it."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-int(fraction * total * 1000) // 1000))  # ceil, without float noise
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None  # pragma: no cover - the loop always reaches the rank


def spread(histogram: Counter, unit: int) -> Spread:
    median, p90 = percentile(histogram, 0.5), percentile(histogram, 0.9)
    return Spread(None if median is None else median * unit, None if p90 is None else p90 * unit)


class WholeUnits(Func):
    """How many whole units (seconds per unit) from `start` to `end`, as an integer."""

    output_field = IntegerField()

    def __init__(self, end: Any, start: Any, unit: int) -> None:
        super().__init__(end, start)
        self.unit = unit

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / {self.unit})::integer"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        seconds = f"ROUND((julianday({end}) - julianday({start})) * 86400)"
        return f"CAST({seconds} / {self.unit} AS INTEGER)", (*end_params, *start_params)


def _eligibility_flags(prefix: str, codes: list[str]) -> dict[str, Any]:
    """One boolean per pathway, did the screening find it eligible: grouped on instead of the
    outcomes themselves (large, and nearly all different)."""
    return {
        f"eligible_{i}": ExpressionWrapper(
            Q(**{f"{prefix}outcomes__{code}__eligible": True}), output_field=BooleanField()
        )
        for i, code in enumerate(codes)
    }


def first_eligible(prefix: str, code: str, codes: list[str]) -> Q:
    """The screening found this pathway the first (in the pathways' order) that may fit: how an
    applicant is counted under one pathway, by the daily statistics and by the report's filter."""
    found = Q(**{f"{prefix}outcomes__{code}__eligible": True})
    for earlier in codes[: codes.index(code)] if code in codes else []:
        # Negated, a missing key would give NULL and drop the row: an older screening may not name
        # a pathway added since.
        found &= ~Q(**{f"{prefix}outcomes__{earlier}__eligible": True}) | Q(
            **{f"{prefix}outcomes__{earlier}__isnull": True}
        )
    return found


def pathway_codes() -> list[str]:
    return list(Pathway.objects.order_by("order", "code").values_list("code", flat=True))


def period(offices: list[Office], days: dict[int, list[datetime.date]], to_appointment: str = "") -> Q:
    """The appointments of the given local days of each office (each run of consecutive days one
    range), seen from the appointment or through `to_appointment` (e.g. "appointment__" from a
    ticket): a filter on the row itself, never an `IN (subquery)`, whose plan PostgreSQL can get
    badly wrong on tables it has no statistics for yet."""
    found = Q(pk__in=[])
    for office in offices:
        wanted = sorted(days.get(office.pk, []))
        runs: list[list[datetime.date]] = []
        for day in wanted:
            if runs and runs[-1][1] + datetime.timedelta(days=1) == day:
                runs[-1][1] = day
            else:
                runs.append([day, day])
        for first, last in runs:
            start = datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone)
            end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=office.zone)
            found |= Q(
                **{
                    f"{to_appointment}office": office,
                    f"{to_appointment}slot__starts_at__gte": start,
                    f"{to_appointment}slot__starts_at__lt": end,
                }
            )
    return found


def local_days(offices: list[Office], first: datetime.date, last: datetime.date, field_name: str) -> Q:
    """From the first to the last day, each office's days in its own time zone."""
    found = Q(pk__in=[])
    for office in offices:
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone)
        end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=office.zone)
        found |= Q(office=office, **{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return found


def count(offices: list[Office], days: dict[int, list[datetime.date]]) -> dict[Key, Tally]:
    """Count the appointments of these local days of these offices into tallies: two queries per
    time zone, grouped in the database (never one row per appointment)."""
    codes = pathway_codes()
    tallies: dict[Key, Tally] = {}

    def key(office: int, day: datetime.date, nationality: Any, host: Any, found_flags: list[bool]) -> Key:
        first = next((code for code, flag in zip(codes, found_flags, strict=True) if flag), "")
        return (office, day, first, str(nationality or ""), str(host or ""))

    flags = _eligibility_flags("screening__", codes)
    ticket_flags = _eligibility_flags("appointment__screening__", codes)
    moved = Exists(AppointmentEvent.objects.filter(appointment=OuterRef("pk"), action=AppointmentEvent.Action.MOVED))
    for zone in sorted({office.time_zone for office in offices}):
        zoned = [office for office in offices if office.time_zone == zone]
        tz = zoneinfo.ZoneInfo(zone)
        appointments = Appointment.objects.filter(period(zoned, days))
        grouped = (
            appointments.order_by()
            .annotate(
                day=TruncDate("slot__starts_at", tzinfo=tz),
                was_moved=moved,
                lead_hour=WholeUnits(F("slot__starts_at"), F("created_at"), HOUR),
                **flags,
            )
            .values_list(
                "office_id", "day", "nationality", "screening__host_country", "status", "was_moved", "lead_hour", *flags
            )
            .annotate(
                n=Count("pk"),
                lead=Sum(ExpressionWrapper(F("slot__starts_at") - F("created_at"), output_field=DurationField())),
            )
        )
        for office, day, nationality, host, status, was_moved, lead_hour, *flags_found, n, lead in grouped:
            tally = tallies.setdefault(key(office, day, nationality, host, flags_found), Tally())
            tally.booked += n
            tally.cancelled += n if status == Status.CANCELLED else 0
            tally.attended += n if status in ATTENDED else 0
            tally.served += n if status == Status.SERVED else 0
            tally.no_show += n if status == Status.NO_SHOW else 0
            tally.moved += n if was_moved else 0
            # A cancelled appointment never came to its time: it has no lead time.
            if status != Status.CANCELLED and lead_hour is not None:
                tally.lead_seconds += int(lead.total_seconds()) if lead else 0
                tally.lead_hours[max(0, lead_hour)] += n
        waits = (
            Ticket.objects.filter(period(zoned, days, "appointment__"), called_at__isnull=False)
            .order_by()
            .annotate(
                slot_day=TruncDate("appointment__slot__starts_at", tzinfo=tz),
                wait_minute=WholeUnits(FIRST_CALL, F("checked_in_at"), MINUTE),
                **ticket_flags,
            )
            .values_list(
                "appointment__office_id",
                "slot_day",
                "appointment__nationality",
                "appointment__screening__host_country",
                "wait_minute",
                *ticket_flags,
            )
            .annotate(
                n=Count("pk"),
                seconds=Sum(ExpressionWrapper(FIRST_CALL - F("checked_in_at"), output_field=DurationField())),
            )
        )
        for office, day, nationality, host, wait_minute, *flags_found, n, seconds in waits:
            tally = tallies.setdefault(key(office, day, nationality, host, flags_found), Tally())
            tally.waits += n
            tally.wait_seconds += int(seconds.total_seconds()) if seconds else 0
            tally.wait_minutes[max(0, wait_minute)] += n
    return tallies
