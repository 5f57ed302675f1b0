"""Reads of the booking that need care: places left for a whole page in a constant number of
queries, and the offices an applicant may choose."""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from appointments.models import Closure, Hold, Office, Slot
from appointments.services import bookable_window
from eligibility.models import Screening


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("slot").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_places_left(slots: QuerySet[Slot], now: datetime.datetime) -> QuerySet[Slot]:
    """Annotate `places_left` = capacity − active appointments − unexpired holds (never below 0).

    `taken` counts the active appointments and every hold, so the expired holds not yet purged
    (at most a minute's worth) are added back; tests compare this with counting the rows."""
    expired = _count(Hold.objects.filter(slot=OuterRef("pk"), expires_at__lte=now))
    return slots.annotate(places_left=Greatest(F("capacity") - F("taken") + expired, Value(0)))


def offices_for(screening: Screening) -> list[tuple[str, list[Office]]]:
    """Active offices serving a pathway the screening found eligible, grouped by city."""
    offices = (
        Office.objects.filter(active=True, pathways__code__in=screening.eligible_pathways)
        .distinct()
        .order_by("city", "name")
    )
    return [(city, list(group)) for city, group in groupby(offices, key=lambda office: office.city)]


def office_for(screening: Screening, slug: str) -> Office | None:
    return (
        Office.objects.filter(active=True, slug=slug, pathways__code__in=screening.eligible_pathways).distinct().first()
    )


@dataclass
class Day:
    date: datetime.date
    places_left: int = 0
    closed: bool = False
    slots: list[Slot] = field(default_factory=list)


def bookable_days(office: Office, now: datetime.datetime) -> list[Day]:
    """Each local day from today to the horizon that has slots or a closure, with its bookable
    slots and the places left in them: two queries whatever the number of slots."""
    earliest, end = bookable_window(office, now)
    slots = with_places_left(
        Slot.objects.filter(office=office, starts_at__gte=earliest, starts_at__lt=end), now
    ).order_by("starts_at")
    zone = office.zone
    days: dict[datetime.date, Day] = {}
    for slot in slots:
        slot.office = office
        day = days.setdefault(slot.local_start().date(), Day(slot.local_start().date()))
        day.slots.append(slot)
        day.places_left += slot.places_left
    first_day = earliest.astimezone(zone).date()
    last_day = (end - datetime.timedelta(microseconds=1)).astimezone(zone).date()
    closures = Closure.objects.filter(
        Q(office=office) | Q(office=None), ends_on__gte=first_day, starts_on__lte=last_day
    )
    closed: dict[datetime.date, bool] = defaultdict(bool)
    for closure in closures:
        day = max(closure.starts_on, first_day)
        while day <= min(closure.ends_on, last_day):
            closed[day] = True
            day += datetime.timedelta(days=1)
    for date in closed:
        days.setdefault(date, Day(date)).closed = True
    for day in days.values():
        if day.closed:
            day.places_left = 0
            day.slots = []
    return [days[date] for date in sorted(days)]


def bookable_day(office: Office, date: datetime.date, now: datetime.datetime) -> Day | None:
    """One day of `bookable_days`, or None when the day is outside the window."""
    earliest, end = bookable_window(office, now)
    zone = office.zone
    if (
        not earliest.astimezone(zone).date()
        <= date
        <= (end - datetime.timedelta(microseconds=1)).astimezone(zone).date()
    ):
        return None
    start = max(earliest, datetime.datetime.combine(date, datetime.time(), tzinfo=zone))
    stop = min(end, datetime.datetime.combine(date + datetime.timedelta(days=1), datetime.time(), tzinfo=zone))
    day = Day(date)
    if Closure.objects.filter(Q(office=office) | Q(office=None), starts_on__lte=date, ends_on__gte=date).exists():
        day.closed = True
        return day
    for slot in with_places_left(
        Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=stop), now
    ).order_by("starts_at"):
        slot.office = office
        day.slots.append(slot)
        day.places_left += slot.places_left
    return day
