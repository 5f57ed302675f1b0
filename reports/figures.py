"""The report's figures. Days already counted are read from the daily statistics (a few rows per
office and day, whatever the number of appointments); the other days (today, the days to come, any
day the hourly count has not reached yet) are counted from the appointments the same way. A bounded
number of queries either way (a test counts them)."""

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, Sum

from appointments.models import Office, Slot
from eligibility.models import ScreenerStart, Screening
from reports.models import CountedDay, DailyStat
from reports.services import tally_of
from reports.stats import Key, Tally, count, first_eligible, local_days, pathway_codes


@dataclass
class Choice:
    """The report's filters on the kind of applicant (empty: any)."""

    pathway: str = ""
    nationality: str = ""
    host_country: str = ""

    def keeps(self, key: Key) -> bool:
        _office, _day, pathway, nationality, host = key
        return (
            (not self.pathway or pathway == self.pathway)
            and (not self.nationality or nationality == self.nationality)
            and (not self.host_country or host == self.host_country)
        )

    def stats(self) -> Q:
        found = Q()
        for name in ("pathway", "nationality", "host_country"):
            if getattr(self, name):
                found &= Q(**{name: getattr(self, name)})
        return found


@dataclass
class OfficeRow:
    name: str
    tally: Tally = field(default_factory=Tally)


@dataclass
class Figures:
    started: int
    screenings: int
    eligible: list[tuple[str, int]]
    eligible_any: int
    total: Tally
    places_offered: int
    days: list[tuple[datetime.date, int, int]]
    offices: list[OfficeRow]
    counted_days: int = 0
    live_days: int = 0
    # A pathway, nationality or host country chosen: places are not offered per kind of applicant.
    some_applicants: bool = False

    @property
    def capacity_use(self) -> float | None:
        """Places booked (cancelled ones are free again) among the places offered; none when only
        some applicants are counted."""
        if not self.places_offered or self.some_applicants:
            return None
        return (self.total.booked - self.total.cancelled) / self.places_offered

    @property
    def funnel(self) -> list[tuple[str, int]]:
        return [
            ("started", self.started),
            ("finished", self.screenings),
            ("eligible", self.eligible_any),
            ("booked", self.total.booked),
            ("attended", self.total.attended),
        ]


def tallies(
    offices: list[Office], first: datetime.date, last: datetime.date, choice: Choice
) -> tuple[dict[Key, Tally], int, int]:
    """Every tally of the period: stored for the counted days, counted now for the others. Returns
    the tallies and how many office-days came from each source."""
    span = _days(first, last)
    ids = [office.pk for office in offices]
    counted = set(CountedDay.objects.filter(office__in=ids, day__gte=first, day__lte=last).values_list("office", "day"))
    found: dict[Key, Tally] = {}
    stored = DailyStat.objects.filter(choice.stats(), office__in=ids, day__gte=first, day__lte=last)
    for stat in stored:
        if (stat.office_id, stat.day) in counted:
            key = (stat.office_id, stat.day, stat.pathway, stat.nationality, stat.host_country)
            found[key] = tally_of(stat)
    uncounted = {office.pk: [day for day in span if (office.pk, day) not in counted] for office in offices}
    if any(uncounted.values()):
        for key, tally in count(offices, uncounted).items():
            if choice.keeps(key):
                found[key] = tally
    live = sum(len(days) for days in uncounted.values())
    return found, len(counted), live


def figures(
    *, offices: list[Office], first: datetime.date, last: datetime.date, choice: Choice | None = None
) -> Figures:
    """Every figure of the report for some offices over one period."""
    choice = choice or Choice()
    found, counted, live = tallies(offices, first, last, choice)
    total = Tally()
    per_day: dict[datetime.date, Tally] = defaultdict(Tally)
    per_office: dict[int, Tally] = defaultdict(Tally)
    for (office, day, *_kind), tally in found.items():
        total.add(tally)
        per_day[day].add(tally)
        per_office[office].add(tally)
    names = {office.pk: office.name for office in offices}
    offered = Slot.objects.filter(local_days(offices, first, last, "starts_at")).aggregate(n=Sum("capacity"))["n"] or 0
    started, finished, eligible, eligible_any = screenings(offices, first, last, choice)
    return Figures(
        started=started,
        screenings=finished,
        eligible=eligible,
        eligible_any=eligible_any,
        total=total,
        places_offered=offered,
        # Every day of the period, with or without appointments, so the chart keeps its time scale.
        days=[(day, per_day[day].booked, per_day[day].attended) for day in _days(first, last)],
        offices=sorted((OfficeRow(names[pk], tally) for pk, tally in per_office.items()), key=lambda row: row.name),
        counted_days=counted,
        live_days=live,
        some_applicants=bool(choice.pathway or choice.nationality or choice.host_country),
    )


def _days(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def screenings(
    offices: list[Office], first: datetime.date, last: datetime.date, choice: Choice
) -> tuple[int, int, list[tuple[str, int]], int]:
    """Screenings started and finished on these days in the offices' countries, and how many found
    each pathway (any pathway) eligible. A screening has no office: its days are those of the
    offices in its host country, in their time zone, as the appointments' days are."""
    countries = sorted({str(office.country) for office in offices})
    if choice.host_country:
        countries = [country for country in countries if country == choice.host_country]
    finished = Screening.objects.filter(_country_days(offices, countries, first, last, "created_at"))
    if choice.nationality:
        finished = finished.filter(answers__nationality=choice.nationality)
    codes = pathway_codes()
    if choice.pathway:
        finished = finished.filter(first_eligible("", choice.pathway, codes))
    found = finished.aggregate(
        total=Count("pk"),
        any=Count("pk", filter=Q(*[Q(**{f"outcomes__{code}__eligible": True}) for code in codes], _connector=Q.OR)),
        **{
            f"eligible_{i}": Count("pk", filter=Q(**{f"outcomes__{code}__eligible": True}))
            for i, code in enumerate(codes)
        },
    )
    # Starts are counted by host country only: the other answers come later.
    started = ScreenerStart.objects.filter(_country_days(offices, countries, first, last, "hour")).aggregate(
        n=Sum("started")
    )["n"]
    return (
        started or 0,
        found["total"],
        [(code, found[f"eligible_{i}"]) for i, code in enumerate(codes)],
        found["any"],
    )


def _country_days(
    offices: list[Office], countries: list[str], first: datetime.date, last: datetime.date, field_name: str
) -> Q:
    """From the first to the last day of each host country, in the time zone of its offices (each
    zone's days once, when one country's offices keep different zones)."""
    found = Q(pk__in=[])
    for country, zone in sorted({(str(office.country), office.time_zone) for office in offices}):
        if country in countries:
            tz = zoneinfo.ZoneInfo(zone)
            start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
            end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
            found |= Q(host_country=country, **{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return found


CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 600, 200, 10


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
