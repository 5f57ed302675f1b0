"""The appointments a closure left behind, handled in bulk: each moved to the nearest free time at
its office (the person is told, with the link to choose another), or cancelled (the person is
told how to book again). Each appointment is its own transaction through the same services as
the pages, so a run can stop anywhere and run again: what was handled is no longer in the closed
days, and a change made meanwhile (by the person, or a second run) is skipped, not repeated."""

import bisect
import datetime
import logging
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from appointments.errors import BookingError, ErrorCode
from appointments.models import Appointment, Closure, ClosureRun, Office, Slot
from appointments.selectors import with_places_left
from appointments.services.booking import bookable_window
from appointments.services.changes import cancel_appointment, move_appointment

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 25  # appointments between two progress writes
MAX_TRIES = 20  # nearest candidate times tried before an appointment counts as not placed


def appointments_left(closure: Closure, office_ids: list[int]) -> list[Appointment]:
    """The booked appointments in the closed days at these offices, by time."""
    offices = Office.objects.filter(pk__in=office_ids)
    if closure.office_id:
        offices = offices.filter(pk=closure.office_id)
    start = datetime.datetime.combine(closure.starts_on, datetime.time(), tzinfo=datetime.UTC)
    end = datetime.datetime.combine(closure.ends_on, datetime.time(), tzinfo=datetime.UTC)
    candidates = Appointment.objects.filter(
        status=Appointment.Status.BOOKED,
        office__in=offices,
        slot__starts_at__gte=start - datetime.timedelta(days=1),
        slot__starts_at__lt=end + datetime.timedelta(days=2),
    ).select_related("slot__office")
    return [
        appointment
        for appointment in candidates.order_by("slot__starts_at", "pk")
        if closure.starts_on <= appointment.slot.local_start().date() <= closure.ends_on
    ]


def start_run(*, closure: Closure, action: str, actor: AbstractBaseUser, office_ids: list[int]) -> ClosureRun:
    """Record the run and hand it to the worker after commit (if the broker is down, it stays
    queued and staff can start it again)."""
    run = ClosureRun.objects.create(
        closure=closure,
        action=action,
        actor=actor,
        office_ids=sorted(office_ids),
        total=len(appointments_left(closure, office_ids)),
    )
    transaction.on_commit(partial(_enqueue, run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from appointments.tasks import handle_closure  # the task module imports this one

    try:
        handle_closure.delay(run_id)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the run stays queued, visible to staff
        logger.warning("closure run left queued run=%s error=%s", run_id, type(exc).__name__)


class _FreeTimes:
    """The office's open times with places, nearest first, read once for the whole run; a place
    taken by the run is counted down here, and the booking service re-checks under its lock."""

    def __init__(self, office: Office, closure: Closure, now: datetime.datetime) -> None:
        earliest, end = bookable_window(office, now)
        closed = Q(office=office) | Q(office=None)
        closures = list(Closure.objects.filter(closed, ends_on__gte=office.local_today(now)))
        slots = with_places_left(
            Slot.objects.filter(office=office, starts_at__gte=earliest, starts_at__lt=end, capacity__gt=0), now
        ).order_by("starts_at")
        self.slots = [
            slot
            for slot in slots
            if slot.places_left > 0
            and not any(c.starts_on <= slot.starts_at.astimezone(office.zone).date() <= c.ends_on for c in closures)
        ]
        self.starts = [slot.starts_at for slot in self.slots]

    def nearest(self, moment: datetime.datetime) -> list[Slot]:
        """Up to MAX_TRIES times with places, nearest to the moment first (earlier on a tie),
        walking outwards from it and stepping over full ones."""
        right = bisect.bisect_left(self.starts, moment)
        left = right - 1
        found: list[Slot] = []
        while len(found) < MAX_TRIES and (left >= 0 or right < len(self.slots)):
            before = self.slots[left] if left >= 0 else None
            after = self.slots[right] if right < len(self.slots) else None
            if after is None or (before is not None and moment - before.starts_at <= after.starts_at - moment):
                candidate, left = before, left - 1
            else:
                candidate, right = after, right + 1
            if candidate.places_left > 0:
                found.append(candidate)
        return found


def _move(appointment: Appointment, free: _FreeTimes, run: ClosureRun, now: datetime.datetime) -> bool:
    for slot in free.nearest(appointment.slot.starts_at):
        try:
            move_appointment(
                appointment_id=appointment.pk,
                slot_id=slot.pk,
                expected_revision=appointment.revision,
                actor=run.actor,
                now=now,
                closure=run.closure_id,
            )
        except BookingError as exc:
            if exc.code in {ErrorCode.FULL, ErrorCode.UNAVAILABLE}:
                slot.places_left = 0
                continue
            raise
        slot.places_left -= 1
        return True
    return False


def run_closure(*, run_id: int, now: datetime.datetime | None = None) -> ClosureRun | None:
    """Handle a queued run; returns it, or None when another worker has it or it is done."""
    now = now or timezone.now()
    claimed = ClosureRun.objects.filter(pk=run_id, status=ClosureRun.Status.QUEUED).update(
        status=ClosureRun.Status.RUNNING
    )
    if not claimed:
        return None
    run = ClosureRun.objects.select_related("closure", "actor").get(pk=run_id)
    left = appointments_left(run.closure, run.office_ids)
    ClosureRun.objects.filter(pk=run.pk).update(total=F("done") + len(left))
    free: dict[int, _FreeTimes] = {}
    moved = cancelled = 0
    unplaced: list[str] = []
    skipped: list[str] = []
    for n, appointment in enumerate(left, start=1):
        try:
            if run.action == ClosureRun.Action.MOVE:
                office = appointment.slot.office
                if office.pk not in free:
                    free[office.pk] = _FreeTimes(office, run.closure, now)
                if _move(appointment, free[office.pk], run, now):
                    moved += 1
                else:
                    unplaced.append(appointment.display_reference)
            else:
                cancel_appointment(
                    appointment_id=appointment.pk,
                    expected_revision=appointment.revision,
                    actor=run.actor,
                    now=now,
                    closure=run.closure_id,
                )
                cancelled += 1
        except BookingError as exc:
            # Changed meanwhile (the person moved or cancelled it, another run handled it): skip.
            logger.info("closure run skipped run=%s appointment=%s code=%s", run.pk, appointment.pk, exc.code)
            skipped.append(appointment.display_reference)
        if n % PROGRESS_EVERY == 0 or n == len(left):
            ClosureRun.objects.filter(pk=run.pk).update(done=n, moved=moved, cancelled=cancelled, unplaced=unplaced)
    ClosureRun.objects.filter(pk=run.pk).update(
        status=ClosureRun.Status.DONE,
        finished_at=timezone.now(),
        done=len(left),
        moved=moved,
        cancelled=cancelled,
        unplaced=unplaced,
        skipped=skipped,
    )
    run.refresh_from_db()
    return run
