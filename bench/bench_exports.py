"""Exports and the report page over many appointments (run by `make bench`, on throwaway
PostgreSQL and Redis): 1,000,000 appointments to CSV (target ≥ 30,000 rows/s, < 20 MB memory
growth), 100,000 to XLSX (≥ 4,000 rows/s, < 40 MB), and the whole report page over the 1,000,000
(target: under a second).

Memory growth is the process's peak resident size after the export minus before it (the peak only
grows, so each export runs in its own child process). Rewrites its section of docs/benchmarks.md.
"""

import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, setup_django, write_section

setup_django()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from appointments.models import Appointment, Office, Slot  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.data import make_office, open_every_day, prepare_database  # noqa: E402
from eligibility.models import Pathway, ScreenerVersion, Screening  # noqa: E402
from reports.exports import csv_lines, rows, write_xlsx  # noqa: E402
from reports.services import refresh_daily_stats  # noqa: E402

CSV_ROWS = int(os.environ.get("BENCH_CSV_ROWS", "1000000"))
XLSX_ROWS = int(os.environ.get("BENCH_XLSX_ROWS", "100000"))
START, END = "<!-- bench:exports -->", "<!-- /bench:exports -->"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PAST_DAYS = 90


def setup() -> None:
    """One office with PAST_DAYS days of history and the coming 30 days of slots; CSV_ROWS
    appointments over the past days (booked 0 to 13 days ahead), counted into the daily statistics."""
    prepare_database()
    if Appointment.objects.filter(office__slug="bench-exports").count() >= CSV_ROWS:
        return
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    pathways = list(Pathway.objects.all())
    screening = Screening.objects.create(
        version=version,
        host_country="CO",
        answers={},
        outcomes={p.code: {"eligible": p.code == "refugee", "order": p.order} for p in pathways},
        language="es",
    )
    office = make_office("bench-exports", "Bench exports", horizon_days=PAST_DAYS + 30)
    open_every_day(office, opens=7, closes=19, capacity=250)
    today = office.local_today(timezone.now())
    first = today - datetime.timedelta(days=PAST_DAYS)
    generate_slots(office=office, now=datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone))
    end = datetime.datetime.combine(today, datetime.time.min, tzinfo=office.zone)
    past = list(
        Slot.objects.filter(office=office, starts_at__lt=end).order_by("starts_at").values_list("pk", "starts_at")
    )
    statuses = ["served", "served", "no_show", "cancelled", "served", "checked_in"]
    # One INSERT ... SELECT: a million rows in seconds rather than minutes of ORM objects.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO appointments_appointment (
                reference, office_id, slot_id, screening_id, status, revision, booking_key, full_name,
                date_of_birth, nationality, document_type, document_number, document_country, phone,
                email, language, party_size, companions, consent_at, created_at, updated_at, cancelled_at, age_band
            )
            SELECT
                'X' || lpad(n::text, 8, '0'), %(office)s, (%(slots)s::bigint[])[1 + n %% %(nslots)s],
                %(screening)s, (%(statuses)s::text[])[1 + n %% 6], 0, gen_random_uuid(),
                'Persona ' || n, DATE '1990-01-01', (ARRAY['VE','CU','HT','CO'])[1 + n %% 4], 'passport',
                'D' || n, 'VE', '+573001234567', '', 'es', 1 + n %% 3, '[]'::jsonb, now(),
                (%(starts)s::timestamptz[])[1 + n %% %(nslots)s] - (n %% 14) * interval '1 day'
                    - (n %% 11) * interval '1 hour',
                now(), NULL, '30-44'
            FROM generate_series(1, %(n)s) AS n
            """,
            {
                "office": office.pk,
                "slots": [pk for pk, _start in past],
                "starts": [start for _pk, start in past],
                "nslots": len(past),
                "screening": screening.pk,
                "statuses": statuses,
                "n": CSV_ROWS,
            },
        )
    generate_slots(office=office, now=timezone.now())


def count_history() -> float:
    """Count every past day into the daily statistics, as the hourly task does; returns seconds."""
    office = Office.objects.get(slug="bench-exports")
    today = office.local_today(timezone.now())
    days = [today - datetime.timedelta(days=n) for n in range(1, PAST_DAYS + 1)]
    started = time.perf_counter()
    for week in range(0, len(days), 7):
        refresh_daily_stats(office=office, days=days[week : week + 7])
    return time.perf_counter() - started


def report_page() -> tuple[float, int]:
    """The whole report page (every figure, chart and table) over the past days and the coming
    month: the median of five requests, and the appointments it counts."""
    office = Office.objects.get(slug="bench-exports")
    user, _new = get_user_model().objects.get_or_create(
        username="bench-reports", defaults={"is_staff": True, "is_superuser": True}
    )
    setup_test_environment()  # the test client's host, and the response's context
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    # The admin asks staff for a second factor: this session has given one.
    device, _new = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    today = office.local_today(timezone.now())
    params = {
        "date_from": str(today - datetime.timedelta(days=PAST_DAYS)),
        "date_to": str(today + datetime.timedelta(days=30)),
        "offices": office.pk,
    }
    times = []
    for _ in range(6):
        started = time.perf_counter()
        response = client.get("/admin/report/", params)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"the report page answered {response.status_code}")
    # Django's test instrumentation keeps each response's template context.
    figures_found = response.context["figures"]
    return statistics.median(times[1:]), figures_found.total.booked


def export_child(kind: str) -> None:
    """Run in a child process: one export, printed as JSON (rows, seconds, memory growth)."""
    found = Appointment.objects.filter(office__slug="bench-exports")
    if kind == "xlsx":
        found = found.filter(pk__in=found.order_by("pk").values("pk")[:XLSX_ROWS])
    before = peak_mb()
    started = time.perf_counter()
    if kind == "csv":
        written = sum(len(line) for line in csv_lines(rows(found, personal=True)))
        count = CSV_ROWS
    else:
        with tempfile.TemporaryFile() as target:
            count = write_xlsx(rows(found, personal=True, inert=False), target)
            written = target.tell()
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": count, "seconds": seconds, "growth": peak_mb() - before, "bytes": written}))


def run_child(kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind], check=True, capture_output=True, text=True, env=os.environ
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def line(name: str, result: dict, target: str) -> str:
    speed = result["rows"] / result["seconds"]
    return (
        f"| {name} | {result['rows']:,} | {result['seconds']:.1f} s | {speed:,.0f} | {result['growth']:.1f} MB | "
        f"{target} |"
    )


def main() -> int:
    setup()
    csv_result = run_child("csv")
    xlsx_result = run_child("xlsx")
    counting = count_history()
    report_seconds, booked = report_page()
    checks = [
        ("CSV", csv_result["rows"] / csv_result["seconds"] >= 30_000 and csv_result["growth"] < 20),
        ("XLSX", xlsx_result["rows"] / xlsx_result["seconds"] >= 4_000 and xlsx_result["growth"] < 40),
        ("report", report_seconds < 1),
    ]
    failed = [name for name, ok in checks if not ok]
    report = f"""{START}
## Exports and the report page (`bench/bench_exports.py`)

Command: `make bench` (or `python bench/bench_exports.py` inside `scripts/with_services.py`).
{CSV_ROWS:,} appointments inserted into one office's past {PAST_DAYS} days; each export runs in its own
process and reports the growth of its peak resident memory. The past days are then counted into the
daily statistics as the hourly task does ({counting:.0f} s for the {PAST_DAYS} days), and the whole
report page (`/admin/report/`, every figure, the chart and the tables, through Django's test
client) is asked for the past {PAST_DAYS} days and the coming 30: the median of five requests after
a first. Run on {timezone.localdate()};
machine: {machine()}.

| What | Rows | Time | Rows/s | Memory growth | Target |
| --- | --- | --- | --- | --- | --- |
{line("CSV, personal columns included", csv_result, "≥ 30,000 rows/s, < 20 MB")}
{line("XLSX (constant memory)", xlsx_result, "≥ 4,000 rows/s, < 40 MB")}
| Report page over every appointment ({booked:,}) | | {report_seconds:.2f} s | | | < 1 s |

Result: {"PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"}.
{END}"""
    write_section(report, START, END)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        export_child(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
