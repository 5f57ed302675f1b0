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


def test_past_appointments_become_system_no_shows(published, back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    office = old.get_model("appointments", "Office").objects.create(
        name="Old", slug="old", country="CO", city="Bogotá", time_zone="America/Bogota", address_en="x", address_es="x"
    )
    start = datetime.datetime(2026, 1, 5, 14, tzinfo=datetime.UTC)
    slot = old.get_model("appointments", "Slot").objects.create(
        office=office, starts_at=start, ends_at=start + datetime.timedelta(minutes=30), capacity=1, taken=1
    )
    screening = old.get_model("eligibility", "Screening").objects.create(
        version_id=published.pk, answers={}, outcomes={}, language="es"
    )
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
