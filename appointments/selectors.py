"""Reads of the booking that need care: places left for a whole page in a constant number of
queries, and the offices an applicant may choose."""

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from appointments.models import Closure, Hold, Office, Slot
from appointments.services.booking import bookable_window
from appointments.services.places import availability_key
from eligibility.models import Screening

logger = logging.getLogger(__name__)
MISSING = object()
# Offices change rarely (and the admin forgets the cached copy); places change all the time (and
# every change bumps the version the cached times are filed under).
OFFICE_CACHE_SECONDS = 60
AVAILABILITY_CACHE_SECONDS = 5


ALL_OFFICES_PERMISSION = "appointments.view_all_offices"


def offices_of(user: Any) -> QuerySet[Office]:
    """The offices whose appointments this user may see: every office for supervisors and program
    administrators, the offices they are staff of for office staff, none for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff or not user.is_active:
        return Office.objects.none()
    if user.has_perm(ALL_OFFICES_PERMISSION):
        return Office.objects.all()
    return Office.objects.filter(staff=user)


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("slot").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_places_left(slots: QuerySet[Slot], now: datetime.datetime) -> QuerySet[Slot]:
    """Annotate `places_left` = capacity − active appointments − unexpired holds (never below 0).

    `taken` counts the active appointments and every hold, so the expired holds not yet purged
    (at most a minute's worth) are added back; tests compare this with counting the rows."""
    expired = _count(Hold.objects.filter(slot=OuterRef("pk"), expires_at__lte=now))
    return slots.annotate(places_left=Greatest(F("capacity") - F("taken") + expired, Value(0)))


def offices_for(screening: Screening | Any) -> list[tuple[str, list[Office]]]:
    """Active offices of the country the person lives in, serving a pathway the screening found
    eligible, grouped by city."""
    offices = Office.objects.filter(active=True, pathways__code__in=screening.eligible_pathways)
    if screening.host_country:
        offices = offices.filter(country=screening.host_country)
    offices = offices.distinct().order_by("city", "name")
    return [(city, list(group)) for city, group in groupby(offices, key=lambda office: office.city)]


def _office_key(slug: str) -> str:
    return f"appointments:office:{slug}"


def _times_key(office_id: int, date: datetime.date) -> str:
    return f"appointments:times:{office_id}:{date}"


# slug → id of the offices this process has read: a slug names one office for good unless it is
# renamed, and then the office read for it says which (office_and_times checks), so a stale entry
# costs one more cache call, never a wrong page.
_office_ids: dict[str, int] = {}


def office_and_times_keys(slug: str, date: datetime.date) -> list[str]:
    """The cache keys `office_and_times` reads: the office's, and once this process knows the
    office's id, its availability version's and the day's times'."""
    return _office_and_times_keys(slug, date)[1]


def _office_and_times_keys(slug: str, date: datetime.date) -> tuple[int | None, list[str]]:
    office_id = _office_ids.get(slug)
    keys = [_office_key(slug)]
    if office_id is not None:
        keys += [availability_key(office_id), _times_key(office_id, date)]
    return office_id, keys


def office_and_times(
    screening: Screening | Any,
    slug: str,
    date: datetime.date,
    now: datetime.datetime,
    *,
    read: Callable[[list[str]], dict[str, Any] | None] | None = None,
) -> tuple[Office | None, "Day | None"]:
    """`office_for` and `times_of_day` with one cache call instead of two (the times page at a
    release): the office's copy, its availability version and the day's times read together.
    `read` gives those keys' values if they were read already (with the session, by the times
    page), or None."""
    office_id, keys = _office_and_times_keys(slug, date)
    prefetched = read(keys) if read is not None else None
    if prefetched is None:
        prefetched = _cache_call(lambda: cache.get_many(keys)) or {}
    office = office_for(screening, slug, prefetched=prefetched)
    if office is None:
        return None, None
    if len(_office_ids) >= 1000:
        _office_ids.clear()
    _office_ids[slug] = office.pk
    return office, times_of_day(office, date, now, prefetched=prefetched if office.pk == office_id else None)


def office_for(screening: Screening | Any, slug: str, *, prefetched: dict[str, Any] | None = None) -> Office | None:
    """The active office with this slug if it serves a pathway the screening found eligible."""
    key = _office_key(slug)
    if prefetched is not None and prefetched.get(key) is not None:
        found = prefetched[key]
    else:
        found = _cached(key, OFFICE_CACHE_SECONDS, lambda: _office_and_pathways(slug))
    if found is None or not set(found[1]) & set(screening.eligible_pathways):
        return None
    if screening.host_country and str(found[0].country) != str(screening.host_country):
        return None
    return found[0]


def _office_and_pathways(slug: str) -> tuple[Office, list[str]] | None:
    office = Office.objects.filter(active=True, slug=slug).first()
    return (office, list(office.pathways.values_list("code", flat=True))) if office else None


def forget_office(office: Office) -> None:
    """Call after an office changes (admin), so pages stop using the cached copy at once."""
    _cache_call(lambda: cache.delete(_office_key(office.slug)))


def _cache_call(call: Callable[[], Any]) -> Any:
    """A cache call that, if the cache is down, is skipped: the database answers instead."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - any client error of any cache backend
        logger.warning("cache unavailable error=%s", type(exc).__name__)
        return None


def _cached(key: str, seconds: int, compute: Callable[[], Any]) -> Any:
    found = _cache_call(lambda: cache.get(key, MISSING))
    if found is not None and found is not MISSING:
        return found
    value = compute()
    _cache_call(lambda: cache.set(key, value, seconds))
    return value


@dataclass
class Day:
    date: datetime.date
    places_left: int = 0
    closed: bool = False
    slots: list[Any] = field(default_factory=list)  # Slot, or TimeChoice from the cached copy


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


@dataclass
class TimeChoice:
    """A slot as the times page shows it, made from the cached copy (a model instance costs
    twenty times as much to make, and a day has dozens)."""

    pk: int
    office: Office
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    places_left: int

    def local_start(self) -> datetime.datetime:
        return self.starts_at.astimezone(self.office.zone)

    def local_end(self) -> datetime.datetime:
        return self.ends_at.astimezone(self.office.zone)


def times_of_day(
    office: Office, date: datetime.date, now: datetime.datetime, *, prefetched: dict[str, Any] | None = None
) -> Day | None:
    """`bookable_day`, kept a few seconds in the shared cache with the office's availability
    version, which every change of places bumps on commit (services.places_changed): a copy made
    at another version is made again. Under a rush the times page costs one cache read (the
    version and the copy together); what it shows is re-checked under lock when held."""
    version_key, times_key = availability_key(office.pk), _times_key(office.pk, date)
    # `prefetched`: what office_and_times read with the office, these two keys among them.
    found = prefetched if prefetched is not None else _cache_call(lambda: cache.get_many([version_key, times_key]))
    if found is None:
        return bookable_day(office, date, now)
    version = found.get(version_key, 0)
    cached = found.get(times_key)
    if not (isinstance(cached, tuple) and len(cached) == 2 and cached[0] == version):
        day = bookable_day(office, date, now)
        rows = None if day is None else (day.closed, [(s.pk, s.starts_at, s.ends_at, s.places_left) for s in day.slots])
        _cache_call(lambda: cache.set(times_key, (version, rows), AVAILABILITY_CACHE_SECONDS))
        return day
    if cached[1] is None:
        return None
    closed, rows = cached[1]
    earliest, _end = bookable_window(office, now)
    day = Day(date, closed=closed)
    for pk, starts_at, ends_at, places_left in rows:
        if starts_at >= earliest:
            day.slots.append(TimeChoice(pk, office, starts_at, ends_at, places_left))
            day.places_left += places_left
    return day


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
