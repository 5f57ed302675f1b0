"""Reminders for 10,000 appointments entering the window at once (run by `make bench`, on
throwaway PostgreSQL and Redis): how long the beat task takes to write them, and one worker to
deliver them through the file backends; messages per second, duplicates and missing ones.

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

APPOINTMENTS = 10_000
WITH_EMAIL_EVERY = 4  # one applicant in four gave an e-mail address
SLOTS, PER_SLOT = 100, 100
START, END = "<!-- bench:reminders -->", "<!-- /bench:reminders -->"
REFERENCE = re.compile(r"\b([2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{3})\b")


def setup(now: datetime.datetime) -> None:
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
        name="Bench reminders", slug="bench-reminders", country="CO", city="Bogotá", time_zone="America/Bogota",
        address_en="Calle 26 #69-76", address_es="Calle 26 #69-76", reminder_hours=24,
    )  # fmt: skip
    office.pathways.set(pathways)
    # Appointments between 20 and 23 hours ahead: all inside the 24-hour window at `now`.
    slots = Slot.objects.bulk_create(
        Slot(
            office=office,
            starts_at=now + datetime.timedelta(hours=20, minutes=2 * i),
            ends_at=now + datetime.timedelta(hours=20, minutes=2 * i + 30),
            capacity=PER_SLOT,
            taken=PER_SLOT,
        )
        for i in range(SLOTS)
    )
    Appointment.objects.bulk_create(
        Appointment(
            reference=f"{n:09d}".translate(str.maketrans("0123456789", "23456789AB")),
            office=office,
            slot=slots[n % SLOTS],
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
    connection.close()


def main() -> int:
    now = timezone.now()
    setup(now)
    folder = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    sms_dir, mail_dir = folder / "sms", folder / "mail"
    mail_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "SMS_BACKEND": "notifications.sms.FileBackend",
        "SMS_FILE_PATH": str(sms_dir),
        "EMAIL_URL": f"file://{mail_dir}",
        "SITE_URL": "https://citas.example.org",
    }
    celery_app.control.purge()

    started = time.perf_counter()
    written = services.schedule_reminders(now=now)
    scheduling = time.perf_counter() - started
    expected = APPOINTMENTS + APPOINTMENTS // WITH_EMAIL_EVERY

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "movilidad", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    try:
        started = time.perf_counter()
        while Notification.objects.filter(kind="reminder", status__in=["pending", "sending"]).exists():
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with status {worker.returncode}")
            if time.perf_counter() - started > 1800:
                break
            time.sleep(0.5)
        delivering = time.perf_counter() - started
        # Run the beat task again: everything is written already, nothing may be written twice.
        again = services.schedule_reminders(now=now + datetime.timedelta(minutes=1))
    finally:
        worker.terminate()
        worker.wait(60)

    sms_refs = Counter(
        REFERENCE.search(p.read_text(encoding="utf-8"))[1].replace("-", "") for p in sms_dir.glob("*.txt")
    )
    mail_to = Counter(
        line.removeprefix("To: ").strip()
        for p in mail_dir.glob("*.log")
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.startswith("To: ")
    )
    ours = Appointment.objects.filter(office__slug="bench-reminders")
    references = set(ours.values_list("reference", flat=True))
    addresses = set(ours.exclude(email="").values_list("email", flat=True))
    duplicates = sum(n - 1 for n in sms_refs.values()) + sum(n - 1 for n in mail_to.values())
    missing = len(references - set(sms_refs)) + len(addresses - set(mail_to))
    sent = Notification.objects.filter(kind="reminder", status="sent").count()
    passed = written == expected and again == 0 and duplicates == 0 and missing == 0
    report = f"""{START}
## Reminders for {APPOINTMENTS:,} appointments (`bench/bench_reminders.py`)

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

Result: {"PASS" if passed else "FAIL"}.
{END}"""
    write_section(report, START, END)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
