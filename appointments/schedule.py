"""From weekly opening hours to slot times: pure functions, no database.

Slots follow the office's wall clock: a range 09:00–12:00 with 30-minute slots gives 09:00, 09:30, …
in local time whatever the UTC offset of that day. Every slot lasts exactly the slot length in real
time. On a daylight-saving change, wall-clock times that do not exist (the hour skipped in spring)
start no slot, and the hour repeated in autumn is used once (its first occurrence)."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = datetime.UTC


@dataclass(frozen=True)
class Range:
    weekday: int
    opens: datetime.time
    closes: datetime.time
    capacity: int


@dataclass(frozen=True)
class PlannedSlot:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    capacity: int


def to_utc(day: datetime.date, time: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The instant a wall-clock time names (the first one when it is repeated; for a time skipped by
    a daylight-saving change, the instant the clock would show had it not jumped)."""
    return datetime.datetime.combine(day, time, tzinfo=zone).astimezone(UTC)


def exists(naive: datetime.datetime, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time happens at all in the zone (not skipped by a daylight-saving jump)."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def range_bounds(day: datetime.date, hours: Range, zone: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    return to_utc(day, hours.opens, zone), to_utc(day, hours.closes, zone)


def plan_day(
    day: datetime.date, ranges: Iterable[Range], zone: ZoneInfo, length: datetime.timedelta
) -> list[PlannedSlot]:
    """The slots of one local day; ranges that overlap never produce overlapping slots."""
    planned: list[PlannedSlot] = []
    for hours in sorted((r for r in ranges if r.weekday == day.weekday()), key=lambda r: (r.opens, r.closes)):
        open_at, close_at = range_bounds(day, hours, zone)
        wall = datetime.datetime.combine(day, hours.opens)
        while wall.date() == day and wall.time() < hours.closes:
            step, wall = wall, wall + length
            if not exists(step, zone):
                continue
            starts_at = step.replace(tzinfo=zone).astimezone(UTC)
            ends_at = starts_at + length
            if ends_at > close_at:
                break
            if starts_at < open_at:  # the range opens at a time the clock skipped: it opens later
                continue
            if any(starts_at < other.ends_at and other.starts_at < ends_at for other in planned):
                continue
            planned.append(PlannedSlot(starts_at, ends_at, hours.capacity))
    return sorted(planned, key=lambda slot: slot.starts_at)


def plan(
    *,
    first_day: datetime.date,
    last_day: datetime.date,
    ranges: Iterable[Range],
    closed_days: set[datetime.date],
    zone: ZoneInfo,
    slot_minutes: int,
) -> list[PlannedSlot]:
    """Every slot from first_day to last_day (local dates, both included) outside the closed days."""
    ranges = list(ranges)
    length = datetime.timedelta(minutes=slot_minutes)
    slots: list[PlannedSlot] = []
    day = first_day
    while day <= last_day:
        if day not in closed_days:
            slots.extend(plan_day(day, ranges, zone, length))
        day += datetime.timedelta(days=1)
    return slots


def closed_days(closures: Iterable[tuple[datetime.date, datetime.date]]) -> set[datetime.date]:
    days: set[datetime.date] = set()
    for starts_on, ends_on in closures:
        day = starts_on
        while day <= ends_on:
            days.add(day)
            day += datetime.timedelta(days=1)
    return days
