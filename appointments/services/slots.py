"""Slots from opening hours, closures and each office's horizon."""

import bisect
import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from appointments import schedule
from appointments.errors import BookingError
from appointments.models import Appointment, Closure, Office, OpeningHours, Slot
from appointments.services.places import bounded_lock_waits, places_changed

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------------------------
@dataclass
class GenerationResult:
    created: int = 0
    deleted: int = 0
    updated: int = 0


def _set_capacity(slot: Slot, capacity: int) -> bool:
    stranded = max(0, slot.taken - capacity)
    if (slot.capacity, slot.stranded) == (capacity, stranded):
        return False
    Slot.objects.filter(pk=slot.pk).update(capacity=capacity, stranded=stranded)
    slot.capacity, slot.stranded = capacity, stranded
    return True


def generate_slots(*, office: Office, now: datetime.datetime | None = None) -> GenerationResult:
    """Make the office's future slots match its opening hours, closures and horizon. Idempotent.

    Slots nothing was ever booked in follow the hours. A slot with a booking or a hold is kept for
    staff to handle: it takes the counters of the hours when it still matches them, and a capacity
    of zero when a closure covers it or the hours no longer include it."""
    now = now or timezone.now()
    zone = office.zone
    first_day = office.local_today(now)
    last_day = first_day + datetime.timedelta(days=office.horizon_days)
    closures = Closure.objects.filter(
        Q(office=office) | Q(office=None), ends_on__gte=first_day, starts_on__lte=last_day
    )
    closed = schedule.closed_days(
        (max(c.starts_on, first_day), min(c.ends_on, last_day)) for c in closures.only("starts_on", "ends_on")
    )
    ranges = [
        schedule.Range(h.weekday, h.opens, h.closes, h.capacity) for h in OpeningHours.objects.filter(office=office)
    ]
    wanted = {
        planned.starts_at: planned
        for planned in schedule.plan(
            first_day=first_day,
            last_day=last_day,
            ranges=ranges if office.active else [],
            closed_days=closed,
            zone=zone,
            slot_minutes=office.slot_minutes,
        )
        if planned.starts_at > now
    }
    result = GenerationResult()
    with transaction.atomic(), bounded_lock_waits():
        # Locked in id order, like every booking, and without the office row bookings depend on.
        existing = list(
            Slot.objects.select_for_update(of=("self",)).filter(office=office, starts_at__gt=now).order_by("pk")
        )
        used = set(Appointment.objects.filter(slot__in=existing).values_list("slot_id", flat=True))
        kept: list[Slot] = []
        for slot in existing:
            planned = wanted.get(slot.starts_at)
            in_use = slot.pk in used or slot.taken > 0
            if not in_use and (planned is None or planned.ends_at != slot.ends_at):
                slot.delete()
                result.deleted += 1
                continue
            kept.append(slot)
            if planned is not None and planned.ends_at == slot.ends_at and slot.local_start().date() not in closed:
                result.updated += _set_capacity(slot, planned.capacity)
            else:
                # Closed, or no longer in the hours: its appointments stay for staff; no one else joins.
                result.updated += _set_capacity(slot, 0)
        # A kept slot that takes no one (closed or out of hours) does not stand in the way, except
        # at its own start time (one slot per office and start).
        kept_starts_all = {slot.starts_at for slot in kept}
        kept = sorted((slot for slot in kept if slot.capacity > 0), key=lambda slot: slot.starts_at)
        kept_starts = [slot.starts_at for slot in kept]

        def overlaps_kept(planned: schedule.PlannedSlot) -> bool:
            # Kept slots never overlap each other, so only the neighbours can overlap the new one.
            i = bisect.bisect_left(kept_starts, planned.ends_at)
            return any(planned.starts_at < k.ends_at and k.starts_at < planned.ends_at for k in kept[max(0, i - 1) : i])

        new = [
            Slot(office=office, starts_at=p.starts_at, ends_at=p.ends_at, capacity=p.capacity)
            for p in wanted.values()
            if p.starts_at not in kept_starts_all and not overlaps_kept(p)
        ]
        Slot.objects.bulk_create(new)
        result.created = len(new)
        places_changed(office.pk)
    return result


def generate_all_slots(*, now: datetime.datetime | None = None) -> GenerationResult:
    """Every office in turn; an office busy with bookings is left for the next run."""
    total = GenerationResult()
    for office in Office.objects.all():
        try:
            result = generate_slots(office=office, now=now)
        except BookingError:
            logger.warning("slot generation postponed office=%s reason=busy", office.pk)
            continue
        total.created += result.created
        total.deleted += result.deleted
        total.updated += result.updated
    return total
