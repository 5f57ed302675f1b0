"""Outbox delivery after a draw (run by `make bench`, on throwaway PostgreSQL and Redis): messages
pending at once, handed to the broker as the dispatcher does, one Celery worker (solo pool, the
project's settings) delivering them through the file backends; messages per second until the
last is sent, then every file read back: duplicates and missing ones.

The messages: SMS to people without an appointment (phone codes, written as the outbox keeps
them: one-part SMS to a person, as a draw's news are) and confirmations of booked appointments
(an SMS each, and an e-mail with its calendar file for one in two).

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import FileBackends, celery_worker, machine, setup_django, wait_while, write_result

setup_django()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.data import booked_appointments, eligible_screenings, full_slots, make_office, prepare_database  # noqa: E402
from movilidad.celery import app as celery_app  # noqa: E402
from notifications import services  # noqa: E402
from notifications.models import Notification  # noqa: E402

PEOPLE = int(os.environ.get("BENCH_OUTBOX_PEOPLE", "3000"))  # SMS to people without an appointment
APPOINTMENTS = int(os.environ.get("BENCH_OUTBOX_APPOINTMENTS", "1000"))  # confirmations
WITH_EMAIL_EVERY = 2
TARGET = 200


def setup(now: datetime.datetime) -> list[int]:
    prepare_database()
    [screening] = eligible_screenings(1)
    office = make_office("bench-outbox", "Bench outbox")
    slots = full_slots(
        office,
        count=max(1, APPOINTMENTS // 100),
        first=now + datetime.timedelta(days=3),
        every=datetime.timedelta(minutes=15),
        length=datetime.timedelta(minutes=15),
        capacity=100,
    )
    appointments = booked_appointments(
        APPOINTMENTS, slots=slots, screening=screening, now=now, email_every=WITH_EMAIL_EVERY
    )
    rows = [
        Notification(
            office=office, kind=Notification.Kind.PHONE_CODE, channel=Notification.Channel.SMS,
            recipient=f"+5731{n:08d}", language="es" if n % 3 else "en", due_at=now, queued_at=now,
            details={"code": f"{n % 1_000_000:06d}", "minutes": 10},
        )
        for n in range(PEOPLE)
    ]  # fmt: skip
    for appointment in appointments:
        rows += services._rows(appointment, Notification.Kind.CONFIRMATION, now)  # noqa: SLF001
    ids = [row.pk for row in Notification.objects.bulk_create(rows)]
    connection.close()
    return ids


def main() -> int:
    now = timezone.now()
    ids = setup(now)
    files = FileBackends("bench-outbox-")
    celery_app.control.purge()
    # As in production: the worker keeps its database connection (the test environment closes it).
    with celery_worker(**files.settings, CONN_MAX_AGE="60") as worker:
        # Wait until the worker answers, so its start-up is not timed.
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start")
        load_at_start = os.getloadavg()[0]
        started = time.perf_counter()
        handing = time.perf_counter()
        handed = services.enqueue(ids)
        handing = time.perf_counter() - handing
        wait_while(lambda: Notification.objects.filter(status__in=["pending", "sending"]).exists(), worker, pause=0.2)
        delivering = time.perf_counter() - started
        load_at_end = os.getloadavg()[0]

    sms_to, mail_to = files.sms_recipients(), files.mail_recipients()
    rows = Notification.objects.filter(pk__in=ids)
    expected_sms = set(rows.filter(channel="sms").values_list("recipient", flat=True))
    expected_mail = set(rows.filter(channel="email").values_list("recipient", flat=True))
    duplicates = sum(n - 1 for n in sms_to.values()) + sum(n - 1 for n in mail_to.values())
    missing = len(expected_sms - set(sms_to)) + len(expected_mail - set(mail_to))
    sent = rows.filter(status="sent").count()
    rate = sent / delivering
    passed = sent == len(ids) and duplicates == 0 and missing == 0 and rate >= TARGET
    text = f"""## Outbox delivery after a draw (`bench/bench_outbox.py`)

Command: `make bench` (or `python bench/bench_outbox.py` inside `scripts/with_services.py`):
throwaway PostgreSQL 15 and Redis; one Celery worker (solo pool, the project's settings); SMS and
e-mail written by the file backends. Run on {timezone.now():%Y-%m-%d}; machine: {machine()}.
{len(ids):,} messages pending at once: {PEOPLE:,} SMS to people without an appointment (phone
codes: one-part SMS to a person, as a draw's news are) and the confirmations of {APPOINTMENTS:,} appointments (an SMS
each, an e-mail with its calendar file for one in {WITH_EMAIL_EVERY}), handed to the broker as the
dispatcher does ({handing:.1f} s); timed from then until the last is sent; every file read back.
The machine is shared: its load average (1 minute, {os.cpu_count()} cores) was {load_at_start:.1f} when
the timing started and {load_at_end:.1f} when it ended.

| Measure | Result | Target |
| --- | --- | --- |
| Delivered by one worker | {sent:,} in {delivering:.1f} s ({rate:.0f} messages/s) | ≥ {TARGET} messages/s |
| Duplicate messages (files) | {duplicates} | 0 |
| Missing messages | {missing} | 0 |
"""
    status = write_result("outbox", text, passed=passed)
    print(f"handed over: {handed}")
    return status


if __name__ == "__main__":
    sys.exit(main())
