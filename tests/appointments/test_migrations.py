"""Migration 0004 turns the old "past" status (set only when the same person booked again) into a
no-show marked by the system, and renames the revision counter, keeping its value."""

import datetime
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("appointments", "0003_office_reminders")]
AFTER = [("appointments", "0004_lifecycle")]


@pytest.fixture
def back_to_latest():
    """However the test ends, the database goes back to the latest migrations for the next test."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _office_slot_screening(old, published, *, capacity):
    """An office, a full slot and a screening, as the models were before the migration."""
    office = old.get_model("appointments", "Office").objects.create(
        name="Old", slug="old", country="CO", city="Bogotá", time_zone="America/Bogota", address_en="x", address_es="x"
    )
    start = datetime.datetime(2026, 1, 5, 14, tzinfo=datetime.UTC)
    slot = old.get_model("appointments", "Slot").objects.create(
        office=office,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=30),
        capacity=capacity,
        taken=capacity,
    )
    screening = old.get_model("eligibility", "Screening").objects.create(
        version_id=published.pk, answers={}, outcomes={}, language="es"
    )
    return office, slot, screening


def test_past_appointments_become_system_no_shows(published, back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    office, slot, screening = _office_slot_screening(old, published, capacity=1)
    start = slot.starts_at
    common = {
        "office": office,
        "slot": slot,
        "screening": screening,
        "full_name": "Persona",
        "date_of_birth": datetime.date(1990, 1, 1),
        "nationality": "VE",
        "document_type": "passport",
        "document_country": "VE",
        "phone": "+573001234567",
        "language": "es",
        "consent_at": start,
    }
    Appointment = old.get_model("appointments", "Appointment")
    past = Appointment.objects.create(
        reference="PAST00001", booking_key=uuid.uuid4(), status="past", state=2, document_number="A1", **common
    )
    booked = Appointment.objects.create(
        reference="BOOK00001", booking_key=uuid.uuid4(), status="booked", state=0, document_number="A2", **common
    )
    old.get_model("appointments", "AppointmentEvent").objects.create(appointment=past, action="ended", data={})

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Appointment = new.get_model("appointments", "Appointment")
    assert Appointment.objects.get(pk=past.pk).status == "no_show"
    assert Appointment.objects.get(pk=past.pk).revision == 2
    assert Appointment.objects.get(pk=booked.pk).status == "booked"
    event = new.get_model("appointments", "AppointmentEvent").objects.get(appointment_id=past.pk)
    assert (event.action, event.by) == ("no_show", "system")


def test_stored_names_and_document_numbers_take_the_one_spelling(published, back_to_latest, caplog):
    """Migration 0010: hidden characters leave the names, document numbers take the spelling new
    bookings use, and two active appointments that become the same document are never both
    rewritten (the unique index would refuse it, and the migration cancels nobody)."""
    before, after = [("appointments", "0009_message_languages")], [("appointments", "0010_one_spelling")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    office, slot, screening = _office_slot_screening(old, published, capacity=20)
    start = slot.starts_at
    Appointment = old.get_model("appointments", "Appointment")

    def make(reference, number, *, status="booked", name="Persona", companions=(), **extra):
        return Appointment.objects.create(
            reference=reference,
            booking_key=uuid.uuid4(),
            status=status,
            office=office,
            slot=slot,
            screening=screening,
            full_name=name,
            date_of_birth=datetime.date(1990, 1, 1),
            nationality="VE",
            document_type="passport",
            document_number=number,
            document_country="VE",
            phone="+573001234567",
            language="es",
            consent_at=start,
            party_size=len(companions) + 1,
            companions=list(companions),
            **extra,
        ).pk

    bidi = make("BIDI00001", "A1", name="\u202eMaría\u202c  Pérez", companions=[{"name": "Tú\u200b Lan", "age": 9}])
    composed = make("NFC000001", "A2", name="Jose\u0301 Pérez")
    wide = make("WIDE00001", "ＸＹ９８７")
    accented = make("ACCNT0001", "é-123", status="cancelled")
    cyrillic = make("CYRIL0001", "\u0410\u0412123")
    # Two active appointments that become one document: the earlier booked gets the spelling.
    first = make("FIRST0001", "cd-111")
    second = make("SECND0001", "CD 111")
    # One already has the spelling: it keeps it, the other is left as it was.
    spelled = make("SPELL0001", "EF222")
    dashed = make("DASH00001", "ef-222")
    # Ended appointments are outside the unique index: all take the spelling.
    served = make("SERVD0001", "ef 222", status="served")
    Appointment.objects.filter(pk=first).update(created_at=start - datetime.timedelta(days=3))
    Appointment.objects.filter(pk=second).update(created_at=start - datetime.timedelta(days=9))
    Appointment.objects.filter(pk=first).update(created_at=start - datetime.timedelta(days=10))

    with caplog.at_level("WARNING", logger="appointments.migrations.0010_one_spelling"):
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("appointments", "Appointment")
    stored = dict(new.objects.values_list("pk", "document_number"))
    assert new.objects.get(pk=bidi).full_name == "María Pérez"
    assert new.objects.get(pk=bidi).companions == [{"name": "Tú Lan", "age": 9}]
    assert new.objects.get(pk=composed).full_name == "José Pérez"
    assert stored[wide] == "XY987"
    assert stored[accented] == "E123"
    assert stored[cyrillic] == "\u0410\u0412123"
    assert (stored[first], stored[second]) == ("CD111", "CD 111")
    assert (stored[spelled], stored[dashed], stored[served]) == ("EF222", "ef-222", "EF222")
    # Staff are told which appointments to look at, by id only (never the numbers).
    warnings = " ".join(record.getMessage() for record in caplog.records)
    assert f"appointments={min(second, dashed)},{max(second, dashed)}" in warnings
    assert f"appointments={cyrillic}" in warnings
    assert "CD 111" not in warnings
