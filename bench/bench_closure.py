"""A closure over 2,000 booked appointments, handled by "move each to the nearest free time" in one
Celery worker (run by `make bench`, on throwaway PostgreSQL and Redis): how long the run takes,
the messages it writes, duplicates and overbooked places.

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import celery_worker, machine, setup_django, wait_while, write_result

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Closure, ClosureRun, Office, Slot  # noqa: E402
from appointments.services.closures import start_run  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.data import booked_appointments, eligible_screenings, make_office, open_every_day, prepare_database  # noqa: E402
from movilidad.celery import app as celery_app  # noqa: E402
from notifications.models import Notification  # noqa: E402

APPOINTMENTS = int(os.environ.get("BENCH_CLOSURE_APPOINTMENTS", "2000"))
COUNTERS = 20  # places per slot on open days


def setup(now: datetime.datetime) -> tuple[Office, Closure]:
    prepare_database()
    [screening] = eligible_screenings(1)
    office = make_office("bench-closure", "Bench closure", horizon_days=30)
    open_every_day(office, opens=8, closes=16, capacity=COUNTERS)
    generate_slots(office=office, now=now)
    day = office.local_today(now) + datetime.timedelta(days=10)
    closed = [s for s in Slot.objects.filter(office=office).order_by("starts_at") if s.local_start().date() == day]
    per_slot = -(-APPOINTMENTS // len(closed))
    Slot.objects.filter(pk__in=[s.pk for s in closed]).update(capacity=per_slot)
    # Letters only: never one of the other benchmarks' references (digits and A, B).
    booked_appointments(APPOINTMENTS, slots=closed, screening=screening, now=now, letters="EFGHJKMNPQ", document="C")
    for slot in closed:
        Slot.objects.filter(pk=slot.pk).update(taken=slot.appointments.count())
    closure = Closure.objects.create(office=office, starts_on=day, ends_on=day, reason="Bench closure")
    generate_slots(office=office, now=now)  # as the admin does on saving it: the day takes no one else
    connection.close()
    return office, closure


def main() -> int:
    now = timezone.now()
    office, closure = setup(now)
    supervisor = get_user_model().objects.create_user("bench-supervisor")
    celery_app.control.purge()
    with celery_worker(
        SMS_BACKEND="notifications.sms.FileBackend", SMS_FILE_PATH=tempfile.mkdtemp(prefix="bench-closure-sms-")
    ) as worker:
        started = time.perf_counter()
        run = start_run(closure=closure, action=ClosureRun.Action.MOVE, actor=supervisor, office_ids=[office.pk])
        wait_while(
            lambda: ClosureRun.objects.filter(pk=run.pk).exclude(status=ClosureRun.Status.DONE).exists(),
            worker,
            pause=0.5,
        )
        elapsed = time.perf_counter() - started
        run.refresh_from_db()
        again = start_run(closure=closure, action=ClosureRun.Action.MOVE, actor=supervisor, office_ids=[office.pk])
    moved_rows = Notification.objects.filter(appointment__office=office, kind="moved")
    per_appointment = Counter(moved_rows.values_list("appointment_id", "channel"))
    duplicates = sum(n - 1 for n in per_appointment.values())
    slots = Slot.objects.filter(office=office).annotate(
        booked=Count("appointments", filter=Q(appointments__status="booked"))
    )
    overbooked = slots.filter(Q(booked__gt=F("capacity") + F("stranded")) | Q(taken__gt=F("capacity") + F("stranded")))
    overbooked_places = sum(slot.booked - slot.capacity - slot.stranded for slot in overbooked)
    left = Appointment.objects.filter(office=office, status="booked", slot__capacity=0).count()
    passed = (
        run.moved + len(run.unplaced) == APPOINTMENTS
        and len(per_appointment) == run.moved
        and duplicates == 0
        and overbooked_places == 0
        and again.total == 0
    )
    text = f"""## A closure over {APPOINTMENTS:,} appointments (`bench/bench_closure.py`)

Command: `make bench` (throwaway PostgreSQL 15 and Redis; one Celery worker, solo pool). Run on
{timezone.now():%Y-%m-%d}; machine: {machine()}. {APPOINTMENTS:,} booked appointments on one day
at one office, {COUNTERS} places a slot on the other days; the day is closed and a supervisor runs
"move each to the nearest free time" (each appointment its own transaction through
`move_appointment`, its SMS written in that transaction).

| Measure | Result | Target |
| --- | --- | --- |
| Run, from the admin action to done | {elapsed:.1f} s ({APPOINTMENTS / elapsed:.0f} appointments/s) | |
| Moved / could not be placed | {run.moved:,} / {len(run.unplaced)} | {APPOINTMENTS:,} in all |
| "Moved" messages written | {len(per_appointment):,} | one per moved appointment |
| Duplicate messages | {duplicates} | 0 |
| Overbooked places | {overbooked_places} | 0 |
| Left in the closed day / found by a second run | {left} / {again.total} | 0 / 0 |
"""
    return write_result("closure", text, passed=passed)


if __name__ == "__main__":
    sys.exit(main())
