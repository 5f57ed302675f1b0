"""Outbox delivery after a draw (run by `make bench`, on throwaway PostgreSQL and Redis): messages
pending at once, handed to the broker as the dispatcher does, one Celery worker (solo pool, the
project's settings) delivering them through the file backends; messages per second until the
last is sent, then every file read back: duplicates and missing ones.

The messages: SMS to people without an appointment (a draw's news, as `notify_person` writes
them) and confirmations of booked appointments (an SMS each, and an e-mail with its calendar
file for one in two).

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import re
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
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Office, Slot  # noqa: E402
from bench.common import machine, write_section  # noqa: E402
from eligibility import seed  # noqa: E402
from eligibility.models import Pathway, ScreenerVersion, Screening  # noqa: E402
from movilidad.celery import app as celery_app  # noqa: E402
from notifications import services  # noqa: E402
from notifications.models import Notification  # noqa: E402

PEOPLE = int(os.environ.get("BENCH_OUTBOX_PEOPLE", "3000"))  # SMS to people without an appointment
APPOINTMENTS = int(os.environ.get("BENCH_OUTBOX_APPOINTMENTS", "1000"))  # confirmations
WITH_EMAIL_EVERY = 2
TARGET = 200
START, END = "<!-- bench:outbox -->", "<!-- /bench:outbox -->"
TO = re.compile(r"^To: (.+)$", re.MULTILINE)


def setup(now: datetime.datetime) -> list[int]:
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
        name="Bench outbox", slug="bench-outbox", country="CO", city="Bogotá", time_zone="America/Bogota",
        address_en="Calle 26 #69-76", address_es="Calle 26 #69-76",
    )  # fmt: skip
    office.pathways.set(pathways)
    slots = Slot.objects.bulk_create(
        Slot(
            office=office,
            starts_at=now + datetime.timedelta(days=3, minutes=15 * i),
            ends_at=now + datetime.timedelta(days=3, minutes=15 * i + 15),
            capacity=100,
            taken=100,
        )
        for i in range(max(1, APPOINTMENTS // 100))
    )
    appointments = Appointment.objects.bulk_create(
        Appointment(
            reference=f"{n:09d}".translate(str.maketrans("0123456789", "23456789AB")),
            office=office,
            slot=slots[n % len(slots)],
            screening=screening,
            booking_key=uuid.uuid4(),
            full_name=f"Persona {n}",
            date_of_birth=datetime.date(1985, 1, 1),
            nationality="VE",
            document_type="passport",
            document_number=f"B{n:07d}",
            document_country="VE",
            phone=f"+5730{n:08d}",
            email=f"persona{n}@example.org" if n % WITH_EMAIL_EVERY == 0 else "",
            language="es" if n % 3 else "en",
            consent_at=now,
        )
        for n in range(APPOINTMENTS)
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
    folder = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    sms_dir, mail_dir = folder / "sms", folder / "mail"
    mail_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "SMS_BACKEND": "notifications.sms.FileBackend",
        "SMS_FILE_PATH": str(sms_dir),
        "EMAIL_URL": f"file://{mail_dir}",
        "SITE_URL": "https://citas.example.org",
        # As in production: the worker keeps its database connection (the test environment closes it).
        "CONN_MAX_AGE": "60",
    }
    celery_app.control.purge()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "movilidad", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    try:
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
        while Notification.objects.filter(status__in=["pending", "sending"]).exists():
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with status {worker.returncode}")
            if time.perf_counter() - started > 1800:
                break
            time.sleep(0.2)
        delivering = time.perf_counter() - started
        load_at_end = os.getloadavg()[0]
    finally:
        worker.terminate()
        worker.wait(60)

    sms_to = Counter(TO.search(p.read_text(encoding="utf-8"))[1] for p in sms_dir.glob("*.txt"))
    mail_to = Counter(match for p in mail_dir.glob("*.log") for match in TO.findall(p.read_text(encoding="utf-8")))
    rows = Notification.objects.filter(pk__in=ids)
    expected_sms = set(rows.filter(channel="sms").values_list("recipient", flat=True))
    expected_mail = set(rows.filter(channel="email").values_list("recipient", flat=True))
    duplicates = sum(n - 1 for n in sms_to.values()) + sum(n - 1 for n in mail_to.values())
    missing = len(expected_sms - set(sms_to)) + len(expected_mail - set(mail_to))
    sent = rows.filter(status="sent").count()
    rate = sent / delivering
    passed = sent == len(ids) and duplicates == 0 and missing == 0 and rate >= TARGET
    report = f"""{START}
## Outbox delivery after a draw (`bench/bench_outbox.py`)

Command: `make bench` (or `python bench/bench_outbox.py` inside `scripts/with_services.py`):
throwaway PostgreSQL 15 and Redis; one Celery worker (solo pool, the project's settings); SMS and
e-mail written by the file backends. Run on {timezone.now():%Y-%m-%d}; machine: {machine()}.
{len(ids):,} messages pending at once: {PEOPLE:,} SMS to people without an appointment (a draw's
news, as `notify_person` writes them) and the confirmations of {APPOINTMENTS:,} appointments (an SMS
each, an e-mail with its calendar file for one in {WITH_EMAIL_EVERY}), handed to the broker as the
dispatcher does ({handing:.1f} s); timed from then until the last is sent; every file read back.
The machine is shared: its load average (1 minute, {os.cpu_count()} cores) was {load_at_start:.1f} when
the timing started and {load_at_end:.1f} when it ended.

| Measure | Result | Target |
| --- | --- | --- |
| Delivered by one worker | {sent:,} in {delivering:.1f} s ({rate:.0f} messages/s) | ≥ {TARGET} messages/s |
| Duplicate messages (files) | {duplicates} | 0 |
| Missing messages | {missing} | 0 |

Result: {"PASS" if passed else "FAIL"}.
{END}"""
    write_section(report, START, END)
    print(f"handed over: {handed}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
