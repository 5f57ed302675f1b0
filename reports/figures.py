"""The report's figures, from SQL aggregates over indexed columns: a bounded number of queries
whatever the number of appointments (a test counts them)."""

import datetime
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, FloatField, Q, QuerySet, Sum
from django.db.models.aggregates import Aggregate
from django.db.models.functions import TruncDate

from appointments.models import Appointment, AppointmentEvent, Office, Slot
from desk.models import Ticket
from eligibility.models import Pathway, Screening

Status = Appointment.Status
# The person came; and appointments whose time has come, attended or not.
ATTENDED = (Status.CHECKED_IN, Status.CALLED, Status.SERVED)
PAST = (*ATTENDED, Status.NO_SHOW)


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont over a duration, in seconds."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=fraction, **extra)


@dataclass
class Spread:
    """Median and 90th percentile, in seconds (None without data)."""

    median: float | None = None
    p90: float | None = None


def spread(queryset: QuerySet, duration: Any) -> Spread:
    """The median and 90th percentile of a duration: in the database on PostgreSQL; on the demo's
    SQLite, in Python over the (small) demo data."""
    if connection.vendor == "postgresql":
        found = queryset.aggregate(median=PercentileCont(duration, 0.5), p90=PercentileCont(duration, 0.9))
        return Spread(found["median"], found["p90"])
    values = sorted(
        d.total_seconds()
        for d in queryset.annotate(d=ExpressionWrapper(duration, output_field=DurationField())).values_list(
            "d", flat=True
        )
        if d is not None
    )
    if not values:
        return Spread()
    quantiles = statistics.quantiles(values, n=10, method="inclusive") if len(values) > 1 else [values[0]] * 9
    return Spread(statistics.median(values), quantiles[8])


@dataclass
class OfficeRow:
    name: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def booked(self) -> int:
        return sum(self.counts.values())

    @property
    def no_show_rate(self) -> float | None:
        return no_show_rate(self.counts)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def no_show_rate(counts: dict[str, int]) -> float | None:
    """No-shows among the appointments whose time has come."""
    return rate(counts.get(Status.NO_SHOW, 0), sum(counts.get(s, 0) for s in PAST))


@dataclass
class Figures:
    screenings: int
    eligible: list[tuple[str, int]]
    counts: dict[str, int]
    moved: int
    lead: Spread
    wait: Spread
    places_offered: int
    days: list[tuple[datetime.date, int, int]]
    offices: list[OfficeRow]
    eligible_any: int = 0

    @property
    def booked(self) -> int:
        return sum(self.counts.values())

    @property
    def attended(self) -> int:
        return sum(self.counts.get(s, 0) for s in ATTENDED)

    @property
    def no_show_rate(self) -> float | None:
        return no_show_rate(self.counts)

    @property
    def cancellation_rate(self) -> float | None:
        return rate(self.counts.get(Status.CANCELLED, 0), self.booked)

    @property
    def capacity_use(self) -> float | None:
        return rate(self.booked - self.counts.get(Status.CANCELLED, 0), self.places_offered)


def figures(
    *, appointments: QuerySet[Appointment], offices: list[Office], first: datetime.date, last: datetime.date
) -> Figures:
    """Every figure of the report for these appointments (one period, some offices)."""
    counts = dict(appointments.order_by().values_list("status").annotate(n=Count("pk")))
    moved = AppointmentEvent.objects.filter(appointment__in=appointments, action=AppointmentEvent.Action.MOVED).count()
    lead = spread(appointments, F("slot__starts_at") - F("created_at"))
    wait = spread(
        Ticket.objects.filter(appointment__in=appointments, called_at__isnull=False),
        F("called_at") - F("checked_in_at"),
    )
    offered = Slot.objects.filter(local_days(offices, first, last, "starts_at")).aggregate(n=Sum("capacity"))["n"] or 0
    per_office: dict[str, OfficeRow] = {}
    for name, status, n in appointments.order_by().values_list("office__name", "status").annotate(n=Count("pk")):
        per_office.setdefault(name, OfficeRow(name)).counts[status] = n
    days: dict[datetime.date, list[int]] = defaultdict(lambda: [0, 0])
    # One query per time zone (a handful): a day is the office's local day.
    for zone in sorted({office.time_zone for office in offices}):
        rows = (
            appointments.filter(office__time_zone=zone)
            .order_by()
            .annotate(day=TruncDate("slot__starts_at", tzinfo=zoneinfo.ZoneInfo(zone)))
            .values_list("day")
            .annotate(n=Count("pk"), came=Count("pk", filter=Q(status__in=ATTENDED)))
        )
        for day, n, came in rows:
            days[day][0] += n
            days[day][1] += came
    countries = sorted({str(office.country) for office in offices})
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=datetime.UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.UTC)
    screenings = Screening.objects.filter(created_at__gte=start, created_at__lt=end, host_country__in=countries)
    codes = list(Pathway.objects.order_by("order", "code").values_list("code", flat=True))
    found = screenings.aggregate(
        total=Count("pk"),
        any=Count("pk", filter=Q(*[Q(**{f"outcomes__{code}__eligible": True}) for code in codes], _connector=Q.OR)),
        **{
            f"eligible_{i}": Count("pk", filter=Q(**{f"outcomes__{code}__eligible": True}))
            for i, code in enumerate(codes)
        },
    )
    result = Figures(
        screenings=found["total"],
        eligible=[(code, found[f"eligible_{i}"]) for i, code in enumerate(codes)],
        counts=counts,
        moved=moved,
        lead=lead,
        wait=wait,
        places_offered=offered,
        days=[(day, *days[day]) for day in sorted(days)],
        offices=sorted(per_office.values(), key=lambda row: row.name),
        eligible_any=found["any"],
    )
    return result


def local_days(offices: list[Office], first: datetime.date, last: datetime.date, field_name: str) -> Q:
    """From the first to the last day, each office's days in its own time zone."""
    period = Q(pk__in=[])
    for office in offices:
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone)
        end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=office.zone)
        period |= Q(office=office, **{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return period


@dataclass(frozen=True)
class Bar:
    day: datetime.date
    booked: int
    attended: int
    x: float
    booked_y: float
    booked_height: float
    attended_y: float
    attended_height: float


CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 600, 200, 10


def chart(days: list[tuple[datetime.date, int, int]]) -> dict[str, Any]:
    """The per-day chart's geometry, drawn as SVG by the template (no script, no request elsewhere)."""
    highest = max((booked for _day, booked, _came in days), default=0) or 1
    step = CHART_WIDTH / max(len(days), 1)
    scale = (CHART_HEIGHT - CHART_TOP) / highest

    def bar(i: int, day: datetime.date, booked: int, came: int) -> Bar:
        return Bar(
            day,
            booked,
            came,
            x=round(i * step + step * 0.1, 2),
            booked_y=round(CHART_HEIGHT - booked * scale, 2),
            booked_height=round(booked * scale, 2),
            attended_y=round(CHART_HEIGHT - came * scale, 2),
            attended_height=round(came * scale, 2),
        )

    return {
        "bars": [bar(i, *row) for i, row in enumerate(days)],
        "bar_width": round(step * 0.8, 2),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "highest": highest,
    }
