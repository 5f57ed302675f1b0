"""The nightly retention run over 100,000 ended appointments (run by `make bench`, on throwaway
PostgreSQL and Redis): how long it takes, in how many batches, and that nothing personal is left,
by a search of every text column of every table for the typed values.

Each appointment has a name, document number, phone, e-mail and a companion of its own, a sent
message to its phone and an audit event; 20,000 screenings never used for a booking carry answers
to reduce. Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, setup_django, write_section

setup_django()

from django.apps import apps  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Slot  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.data import make_office, open_every_day, prepare_database  # noqa: E402
from eligibility.models import Pathway, ScreenerVersion, Screening  # noqa: E402
from retention.services import BATCH, run_retention  # noqa: E402

ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "100000"))
UNUSED = ROWS // 5
START, END = "<!-- bench:retention -->", "<!-- /bench:retention -->"
# What was typed, one of each per appointment: none of it may be left anywhere.
TYPED = {
    "names": "Retencion Persona",
    "companions": "Acompanante Unico",
    "documents": "RTX",
    "e-mails": "@retencion.example",
    "phones": "+5730077",
}


def setup() -> None:
    prepare_database()
    if Appointment.objects.filter(office__slug="bench-retention").exists():
        return
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    pathways = list(Pathway.objects.all())
    outcomes = {
        p.code: {"eligible": p.code == "refugee", "order": p.order, "reasons": {"en": ["You arrived on 2023-05-02."]}}
        for p in pathways
    }
    answers = {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-05-02", "fear": "yes"}
    screening = Screening.objects.create(
        version=version, host_country="CO", answers=answers, outcomes=outcomes, language="es"
    )
    office = make_office("bench-retention", "Bench retention", horizon_days=60)
    open_every_day(office, opens=7, closes=19, capacity=250)
    # Slots of two months, a whole retention period and more ago.
    long_ago = timezone.now() - datetime.timedelta(days=settings.RETENTION_DAYS + 70)
    generate_slots(office=office, now=long_ago)
    slots = list(Slot.objects.filter(office=office).order_by("starts_at").values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO appointments_appointment (
                reference, office_id, slot_id, screening_id, status, revision, booking_key, full_name,
                date_of_birth, age_band, nationality, document_type, document_number, document_country,
                phone, email, language, party_size, companions, consent_at, created_at, updated_at,
                cancelled_at
            )
            SELECT
                'R' || lpad(n::text, 8, '0'), %(office)s, (%(slots)s::bigint[])[1 + n %% %(nslots)s],
                %(screening)s, (ARRAY['served','no_show','cancelled','served'])[1 + n %% 4], 0,
                gen_random_uuid(), %(name)s || ' ' || n, DATE '1988-03-04', '', 'VE', 'passport',
                %(document)s || n, 'VE', %(phone)s || lpad(n::text, 6, '0'), 'p' || n || %(email)s,
                'es', 2, jsonb_build_array(jsonb_build_object('name', %(companion)s || ' ' || n, 'age', 7)),
                now(), now(), now(), NULL
            FROM generate_series(1, %(n)s) AS n
            """,
            {
                "office": office.pk,
                "slots": slots,
                "nslots": len(slots),
                "screening": screening.pk,
                "name": TYPED["names"],
                "document": TYPED["documents"],
                "phone": TYPED["phones"],
                "email": TYPED["e-mails"],
                "companion": TYPED["companions"],
                "n": ROWS,
            },
        )
        cursor.execute(
            """
            INSERT INTO notifications_notification (
                appointment_id, kind, channel, recipient, language, appointment_time, due_at, status,
                attempts, last_error, queued_at, sent_at, details, provider_message_id, created_at
            )
            SELECT a.id, 'confirmation', 'sms', a.phone, 'es', now(), now(), 'sent', 1,
                   'last try to ' || a.phone, now(), now(), '{}'::jsonb, '', now()
            FROM appointments_appointment a WHERE a.office_id = %(office)s
            """,
            {"office": office.pk},
        )
        cursor.execute(
            """
            INSERT INTO appointments_appointmentevent (appointment_id, action, at, by, data)
            SELECT a.id, 'booked', now(), 'applicant', jsonb_build_object('slot', a.slot_id, 'said', a.full_name)
            FROM appointments_appointment a WHERE a.office_id = %(office)s
            """,
            {"office": office.pk},
        )
        cursor.execute(
            """
            INSERT INTO eligibility_screening (version_id, host_country, answers, outcomes, language, created_at)
            SELECT %(version)s, 'CO', %(answers)s::jsonb, %(outcomes)s::jsonb, 'es', now() - interval '40 days'
            FROM generate_series(1, %(n)s)
            """,
            {"version": version.pk, "answers": _json(answers), "outcomes": _json(outcomes), "n": UNUSED},
        )
        cursor.execute("ANALYZE")


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def left_behind() -> dict[str, list[str]]:
    """Every text column of every table searched for each kind of typed value."""
    found: dict[str, list[str]] = {kind: [] for kind in TYPED}
    tables = set(connection.introspection.table_names())
    for model in apps.get_models():
        meta = model._meta  # noqa: SLF001 - Django's public model API
        if meta.db_table not in tables:
            continue
        for field in meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField | models.JSONField):
                continue
            column, table = connection.ops.quote_name(field.column), connection.ops.quote_name(meta.db_table)
            query = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column}::text ILIKE %s)"  # noqa: S608 - model names
            with connection.cursor() as cursor:
                for kind, value in TYPED.items():
                    cursor.execute(query, [f"%{value}%"])
                    if cursor.fetchone()[0]:
                        found[kind].append(f"{meta.db_table}.{field.column}")
    return found


def main() -> int:
    setup()
    before = left_behind()
    started = time.perf_counter()
    done = run_retention()
    seconds = time.perf_counter() - started
    after = left_behind()
    unused_left = Screening.objects.filter(minimised_at__isnull=True).count()
    ok = done.get("appointments", 0) == ROWS and not any(after.values()) and all(before.values()) and not unused_left
    rows = "\n".join(f"| {kind} | {len(before[kind])} | {len(after[kind])} |" for kind in TYPED)
    report = f"""{START}
## Retention (`bench/bench_retention.py`)

Command: `make bench` (or `python bench/bench_retention.py` inside `scripts/with_services.py`).
{ROWS:,} appointments whose time was more than `RETENTION_DAYS` ago, each with a name, document
number, phone, e-mail and companion of its own, a sent SMS to that phone and an audit event that
quotes the name; {UNUSED:,} screenings never used for a booking, 40 days old. One nightly run
(`retention.services.run_retention`, batches of {BATCH}). Then every text column of every table
(CharField, TextField, JSONField) is searched for each kind of typed value. Run on
{timezone.localdate()}; machine: {machine()}.

| What | Result |
| --- | --- |
| Appointments erased | {done.get("appointments", 0):,} |
| Screenings reduced | {done.get("screenings", 0):,} |
| Batches | {done.get("batches", 0):,} |
| Time | {seconds:.1f} s ({done.get("appointments", 0) / seconds:,.0f} appointments/s) |

| Typed value | Columns holding it before | After |
| --- | --- | --- |
{rows}

Result: {"PASS" if ok else "FAIL"} (every appointment erased, nothing typed left in any column).
{END}"""
    write_section(report, START, END)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
