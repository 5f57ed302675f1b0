"""Reminders for 10,000 appointments entering the window at once (run by `make bench`, on
throwaway PostgreSQL and Redis): how long the beat task takes to write them, and one worker to
deliver them through the file backends; messages per second, duplicates and missing ones.

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import FileBackends, celery_worker, machine, setup_django, wait_while, write_result

setup_django()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment  # noqa: E402
from bench.data import booked_appointments, eligible_screenings, full_slots, make_office, prepare_database  # noqa: E402
from movilidad.celery import app as celery_app  # noqa: E402
from notifications import services  # noqa: E402
from notifications.models import Notification  # noqa: E402

APPOINTMENTS = int(os.environ.get("BENCH_REMINDERS_APPOINTMENTS", "10000"))
WITH_EMAIL_EVERY = 4  # one applicant in four gave an e-mail address
SLOTS, PER_SLOT = 100, 100
REFERENCE = re.compile(r"\b([2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{3})\b")


def setup(now: datetime.datetime) -> None:
    prepare_database()
    [screening] = eligible_screenings(1)
    office = make_office("bench-reminders", "Bench reminders", reminder_hours=24)
    # Appointments between 20 and 23 hours ahead: all inside the 24-hour window at `now`.
    slots = full_slots(
        office,
        count=SLOTS,
        first=now + datetime.timedelta(hours=20),
        every=datetime.timedelta(minutes=2),
        length=datetime.timedelta(minutes=30),
        capacity=PER_SLOT,
    )
    booked_appointments(APPOINTMENTS, slots=slots, screening=screening, now=now, email_every=WITH_EMAIL_EVERY)
    connection.close()


def main() -> int:
    now = timezone.now()
    setup(now)
    files = FileBackends("bench-reminders-")
    celery_app.control.purge()

    started = time.perf_counter()
    written = services.schedule_reminders(now=now)
    scheduling = time.perf_counter() - started
    expected = APPOINTMENTS + APPOINTMENTS // WITH_EMAIL_EVERY

    with celery_worker(**files.settings) as worker:
        started = time.perf_counter()
        wait_while(
            lambda: Notification.objects.filter(kind="reminder", status__in=["pending", "sending"]).exists(),
            worker,
            pause=0.5,
        )
        delivering = time.perf_counter() - started
        # Run the beat task again: everything is written already, nothing may be written twice.
        again = services.schedule_reminders(now=now + datetime.timedelta(minutes=1))

    sms_refs = Counter(REFERENCE.search(text)[1].replace("-", "") for text in files.sms())
    mail_to = files.mail_recipients()
    ours = Appointment.objects.filter(office__slug="bench-reminders")
    references = set(ours.values_list("reference", flat=True))
    addresses = set(ours.exclude(email="").values_list("email", flat=True))
    duplicates = sum(n - 1 for n in sms_refs.values()) + sum(n - 1 for n in mail_to.values())
    missing = len(references - set(sms_refs)) + len(addresses - set(mail_to))
    sent = Notification.objects.filter(kind="reminder", status="sent").count()
    passed = written == expected and again == 0 and duplicates == 0 and missing == 0
    text = f"""## Reminders for {APPOINTMENTS:,} appointments (`bench/bench_reminders.py`)

Command: `make bench` (throwaway PostgreSQL 15 and Redis; one Celery worker, solo pool; SMS and
e-mail written by the file backends). Run on {timezone.now():%Y-%m-%d}; machine: {machine()}.
{APPOINTMENTS:,} booked appointments 20 to 23 hours ahead, one in {WITH_EMAIL_EVERY} with an e-mail address, enter the
24-hour window at once.

| Measure | Result | Target |
| --- | --- | --- |
| Reminder rows written by the beat task | {written:,} in {scheduling:.1f} s ({written / scheduling:.0f}/s) \
| {expected:,} |
| Written by a second run of the task | {again} | 0 |
| Delivered by one worker | {sent:,} in {delivering:.1f} s ({sent / delivering:.0f} messages/s) | {expected:,} |
| Duplicate messages (files) | {duplicates} | 0 |
| Missing messages | {missing} | 0 |
"""
    return write_result("reminders", text, passed=passed)


if __name__ == "__main__":
    sys.exit(main())
