"""A closure over 2,000 booked appointments, handled by "move each to the nearest free time" in one
Celery worker (run by `make bench`, on throwaway PostgreSQL and Redis): how long the run takes,
the messages it writes, duplicates and overbooked places.

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movilidad.settings")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Closure, ClosureRun, Office, OpeningHours, Slot  # noqa: E402
from appointments.services.closures import start_run  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.common import machine, write_section  # noqa: E402
from eligibility import seed  # noqa: E402
from eligibility.models import Pathway, ScreenerVersion, Screening  # noqa: E402
from movilidad.celery import app as celery_app  # noqa: E402
from notifications.models import Notification  # noqa: E402

APPOINTMENTS = 2_000
COUNTERS = 20  # places per slot on open days
START, END = "<!-- bench:closure -->", "<!-- /bench:closure -->"


def setup(now: datetime.datetime) -> tuple[Office, Closure]:
    call_command("migrate", verbosity=0)
    seed.load(apps)
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    pathways = list(Pathway.objects.all())
    screening = Screening.objects.create(
        version=version,
        answers={},
        outcomes={p.code: {"eligible": True, "order": p.order, "bring": {"en": "", "es": ""}} for p in pathways},
        language="es",
    )
    office = Office.objects.create(
        name="Bench closure", slug="bench-closure", country="CO", city="Bogotá", time_zone="America/Bogota",
        address_en="Calle 26 #69-76", address_es="Calle 26 #69-76", horizon_days=30,
    )  # fmt: skip
    office.pathways.set(pathways)
    for weekday in range(7):
        OpeningHours.objects.create(
            office=office, weekday=weekday, opens=datetime.time(8), closes=datetime.time(16), capacity=COUNTERS
        )
    generate_slots(office=office, now=now)
    day = office.local_today(now) + datetime.timedelta(days=10)
    closed = [s for s in Slot.objects.filter(office=office).order_by("starts_at") if s.local_start().date() == day]
    per_slot = -(-APPOINTMENTS // len(closed))
    Slot.objects.filter(pk__in=[s.pk for s in closed]).update(capacity=per_slot)
    Appointment.objects.bulk_create(
        Appointment(
            # Letters only: never one of the other benchmarks' references (digits and A, B).
            reference=f"{n:09d}".translate(str.maketrans("0123456789", "EFGHJKMNPQ")),
            office=office,
            slot=closed[n % len(closed)],
            screening=screening,
            booking_key=uuid.uuid4(),
            full_name=f"Persona {n}",
            date_of_birth=datetime.date(1985, 1, 1),
            nationality="VE",
            document_type="passport",
            document_number=f"C{n:07d}",
            document_country="VE",
            phone=f"+5730{n:08d}",
            language="es" if n % 3 else "en",
            consent_at=now,
        )
        for n in range(APPOINTMENTS)
    )
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
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "movilidad", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env={**os.environ, "SMS_BACKEND": "notifications.sms.FileBackend",
                           "SMS_FILE_PATH": tempfile.mkdtemp(prefix="bench-closure-sms-")},
    )  # fmt: skip
    try:
        started = time.perf_counter()
        run = start_run(closure=closure, action=ClosureRun.Action.MOVE, actor=supervisor, office_ids=[office.pk])
        while ClosureRun.objects.filter(pk=run.pk).exclude(status=ClosureRun.Status.DONE).exists():
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with status {worker.returncode}")
            if time.perf_counter() - started > 1800:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        run.refresh_from_db()
        again = start_run(closure=closure, action=ClosureRun.Action.MOVE, actor=supervisor, office_ids=[office.pk])
    finally:
        worker.terminate()
        worker.wait(60)
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
    report = f"""{START}
## A closure over {APPOINTMENTS:,} appointments (`bench/bench_closure.py`)

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

Result: {"PASS" if passed else "FAIL"}.
{END}"""
    write_section(report, START, END)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
