"""Personal data kept only as long as promised: the nightly run erases what identifies a person
from appointments past RETENTION_DAYS, their messages, their audit trail and the admin's change
log; screenings keep only what booking and statistics need; the statistics stay; the run is
idempotent, works in batches and skips rows another request holds."""

import datetime
import threading

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment, AppointmentEvent, Slot
from eligibility.models import Screening
from notifications.models import Notification
from reports.models import DailyStat
from retention.services import run_retention
from tests.appointments.conftest import details, make_screening
from tests.appointments.test_booking import book
from tests.reports.test_exports import office

__all__ = ["office"]  # the fixture

TYPED = {
    "full_name": "Rosalba Quintero Maldonado",
    "document_number": "QX9981234",
    "phone": "+573009876543",
    "email": "rosalba.quintero@example.org",
    "companions": [{"name": "Tomasito Quintero", "age": 7}],
}


def booked_at(office, published, nth: int, **typed):
    """An appointment booked by the services, then its slot moved to the past as if it had happened."""
    slot = office.slots.filter(starts_at__gte=timezone.now() + datetime.timedelta(days=2)).order_by("starts_at")[nth]
    screening = make_screening(published, answers={"current_country": "CO", "nationality": "VE", "fear": "yes"})
    extra = {"party_size": 2} if typed.get("companions") else {}
    appointment = book(screening, slot, details=details(**typed, **extra), now=timezone.now())
    return appointment


def shift(appointment, days_ago: int) -> None:
    """Move the appointment's time `days_ago` days back (a slot of its own, so others stay put)."""
    start = timezone.now() - datetime.timedelta(days=days_ago)
    slot = Slot.objects.create(
        office=appointment.office, starts_at=start, ends_at=start + datetime.timedelta(minutes=15), capacity=1, taken=1
    )
    Appointment.objects.filter(pk=appointment.pk).update(slot=slot, status="served")


def text_columns() -> list[tuple[type[models.Model], str]]:
    kinds = (models.CharField, models.TextField, models.JSONField)
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, kinds) and model._meta.db_table in connection.introspection.table_names()
    ]


def found_anywhere(value: str) -> list[str]:
    """Every text column of every table that still holds `value` (case-insensitive)."""
    found = []
    for model, name in text_columns():
        lookup = f"{name}__icontains"
        if isinstance(model._meta.get_field(name), models.JSONField):
            rows = model.objects.filter(**{f"{name}__isnull": False}).values_list(name, flat=True)
            if any(value.lower() in str(row).lower() for row in rows):
                found.append(f"{model._meta.label}.{name}")
        elif model.objects.filter(**{lookup: value}).exists():
            found.append(f"{model._meta.label}.{name}")
    return found


@pytest.mark.django_db
def test_the_nightly_run_erases_what_identifies_a_person_and_keeps_the_statistics(office, published, settings) -> None:
    settings.RETENTION_DAYS = 90
    old = booked_at(office, published, 0, **TYPED)
    recent = booked_at(office, published, 1, full_name="Aurelio Recent", document_number="RC7654321")
    shift(old, days_ago=91)
    shift(recent, days_ago=89)
    Notification.objects.filter(appointment=old).update(status="sent", last_error=f"bounced {TYPED['email']}")
    AppointmentEvent.objects.create(
        appointment=old, action="moved", data={"from": 1, "to": 2, "note": TYPED["full_name"]}
    )
    admin = User.objects.create_superuser("admin", password="x")
    LogEntry.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(Appointment),
        object_id=str(old.pk),
        object_repr=str(old),
        action_flag=CHANGE,
        change_message=f"Changed full name to {TYPED['full_name']}",
    )
    for value in ("Rosalba", TYPED["document_number"], "9876543", "rosalba.quintero", "Tomasito"):
        assert found_anywhere(value), f"the test data holds {value}"

    done = run_retention()

    assert done["appointments"] == 1
    for value in ("Rosalba", TYPED["document_number"], "9876543", "rosalba.quintero", "Tomasito"):
        assert found_anywhere(value) == [], value
    erased = Appointment.objects.get(pk=old.pk)
    assert (erased.full_name, erased.date_of_birth, erased.document_number, str(erased.phone), erased.email) == (
        "",
        None,
        "",
        "",
        "",
    )
    assert erased.companions == []
    assert erased.age_band == "30-44"  # born 1990: what stays is the age band at the appointment
    assert (erased.nationality.code, erased.status, erased.party_size) == ("VE", "served", 2)
    assert erased.erased_at is not None
    assert AppointmentEvent.objects.get(appointment=old, action="moved").data == {"from": 1, "to": 2}
    # Within the period: untouched.
    kept = Appointment.objects.get(pk=recent.pk)
    assert (kept.full_name, kept.document_number, kept.erased_at) == ("Aurelio Recent", "RC7654321", None)
    # The statistics were counted first, and stay.
    day = erased.slot.starts_at.astimezone(office.zone).date()
    assert DailyStat.objects.get(office=office, day=day).booked == 1
    # Idempotent: nothing more to do.
    assert run_retention().get("appointments", 0) == 0
    assert run_retention().get("batches", 0) == 0


@pytest.mark.django_db
def test_it_works_in_batches(office, published) -> None:
    people = [
        booked_at(office, published, n, document_number=f"B{n}000000", full_name=f"Persona {n}") for n in range(5)
    ]
    for person in people:
        shift(person, days_ago=200)
    done = run_retention(batch=2)
    assert done["appointments"] == 5
    assert done["batches"] >= 3
    assert not Appointment.objects.filter(erased_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_screening_keeps_only_what_booking_and_statistics_need(office, published, settings) -> None:
    settings.SCREENING_RETENTION_DAYS = 30
    used = booked_at(office, published, 0).screening
    used.refresh_from_db()
    # Used for a booking: reduced at once.
    assert set(used.answers) <= {"current_country", "nationality"}
    assert used.answers.get("fear") is None
    assert all("reasons" not in outcome for outcome in used.outcomes.values())
    assert used.eligible_pathways == ["refugee"]
    unused = make_screening(published, answers={"current_country": "CO", "nationality": "VE", "fear": "yes"})
    assert run_retention().get("screenings", 0) == 0  # not yet
    Screening.objects.filter(pk=unused.pk).update(created_at=timezone.now() - datetime.timedelta(days=31))
    assert run_retention()["screenings"] == 1
    unused.refresh_from_db()
    assert unused.answers == {"current_country": "CO", "nationality": "VE"}
    assert unused.eligible_pathways == ["refugee"]  # still counted in the report's funnel


@pytest.mark.django_db(transaction=True)
def test_a_row_another_request_holds_is_left_for_the_next_run(office, published) -> None:
    people = [
        booked_at(office, published, n, document_number=f"L{n}000000", full_name=f"Persona {n}") for n in range(2)
    ]
    for person in people:
        shift(person, days_ago=100)
    holding, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Appointment.objects.select_for_update().get(pk=people[0].pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    other = threading.Thread(target=hold_the_row)
    other.start()
    assert holding.wait(timeout=10)
    try:
        done = run_retention()
    finally:
        release.set()
        other.join()
    assert (done["appointments"], done["skipped"]) == (1, 1)
    assert Appointment.objects.get(pk=people[0].pk).erased_at is None
    assert run_retention()["appointments"] == 1
    assert not Appointment.objects.filter(erased_at__isnull=True).exists()


@pytest.mark.django_db
def test_an_erased_appointment_cannot_be_looked_up(office, published) -> None:
    old = booked_at(office, published, 0)
    shift(old, days_ago=120)
    run_retention()
    response = Client().post(
        "/en/manage/",
        {"reference": old.reference, "date_of_birth_0": "17", "date_of_birth_1": "5", "date_of_birth_2": "1990"},
    )
    assert response.status_code == 400
    assert "We could not find an appointment" in response.content.decode()


@pytest.mark.django_db
def test_the_privacy_notice_says_the_numbers_the_code_uses(client, settings) -> None:
    settings.RETENTION_DAYS, settings.SCREENING_RETENTION_DAYS = 45, 12
    settings.SESSION_HOURS, settings.MANAGE_SESSION_IDLE_MINUTES = 5, 25
    settings.PHONE_CODE_MINUTES = 7
    html = " ".join(client.get("/en/privacy/").content.decode().split())
    assert "at most 5 hours after your last step" in html
    assert "it is deleted 7 minutes after the last code stops working" in html
    assert "closes after 25 minutes without activity" in html
    assert "deleted 12 days after you leave it" in html
    assert "deleted 45 days after the last day of the places" in html
    assert "45 days after your appointment" in html
    assert "after 12 days we keep only" in html
    spanish = " ".join(client.get("/es/privacy/").content.decode().split())
    assert "45 días después de su cita" in spanish
    assert "después de 12 días" in spanish
    settings.RETENTION_DAYS = 90
    assert "90 days after your appointment" in " ".join(client.get("/en/privacy/").content.decode().split())


@pytest.mark.django_db
def test_after_cancelling_the_applicant_deletes_their_own_data(office, published) -> None:
    from appointments.services.changes import cancel_appointment

    appointment = booked_at(office, published, 0, **TYPED)
    client = Client(headers={"accept-language": "en"})
    session = client.session
    session["manage"] = {"id": appointment.pk, "seen": int(timezone.now().timestamp())}
    session.save()
    # Not cancelled: nothing to delete yet.
    assert client.get("/en/manage/delete/")["Location"] == "/en/manage/appointment/"
    assert client.post("/en/manage/delete/", {"revision": appointment.revision}).status_code == 302
    assert Appointment.objects.get(pk=appointment.pk).erased_at is None
    cancelled = cancel_appointment(appointment_id=appointment.pk, expected_revision=appointment.revision)
    assert "Delete my information now" in client.get("/en/manage/appointment/").content.decode()
    page = client.get("/en/manage/delete/")
    assert "Delete your information?" in page.content.decode()
    # A page out of date (the appointment changed since) is refused.
    assert client.post("/en/manage/delete/", {"revision": cancelled.revision - 1}).status_code == 302
    assert Appointment.objects.get(pk=appointment.pk).erased_at is None
    done = client.post("/en/manage/delete/", {"revision": cancelled.revision})
    assert "Your information is deleted" in done.content.decode()
    for value in ("Rosalba", TYPED["document_number"], "9876543", "rosalba.quintero", "Tomasito"):
        assert not Appointment.objects.filter(
            models.Q(full_name__icontains=value)
            | models.Q(document_number__icontains=value)
            | models.Q(phone__icontains=value)
            | models.Q(email__icontains=value)
            | models.Q(companions__icontains=value)
        ).exists()
    # Its messages (the confirmation, the cancellation) no longer say where they went.
    assert Notification.objects.filter(appointment=appointment).count() >= 2
    assert set(Notification.objects.filter(appointment=appointment).values_list("recipient", flat=True)) == {""}
    # This browser no longer has it open, nor does any other.
    assert client.get("/en/manage/appointment/")["Location"] == "/en/manage/"


@pytest.mark.django_db
def test_old_appointments_still_active_are_left_and_counted(office, published, settings) -> None:
    """Two appointments of one document, past RETENTION_DAYS yet still booked (the end of their
    day never ran): erasing both would give them the same empty document and break the one
    active appointment per document rule, failing every night. They are left and counted."""
    first = booked_at(office, published, 0, document_number="AC1000001", document_type="passport")
    shift(first, days_ago=100)
    second = booked_at(office, published, 1, document_number="AC1000002", document_type="passport")
    shift(second, days_ago=100)
    served = booked_at(office, published, 2, document_number="AC1000003")
    shift(served, days_ago=100)
    Appointment.objects.filter(pk__in=[first.pk, second.pk]).update(status="booked")
    done = run_retention()
    assert (done["appointments"], done["still_active"]) == (1, 2)
    assert Appointment.objects.filter(pk__in=[first.pk, second.pk], erased_at__isnull=True).count() == 2
    assert Appointment.objects.get(pk=served.pk).erased_at is not None


def release_once_someone_waits(release: threading.Event) -> None:
    """Let the row go once another session is waiting for it (read from PostgreSQL, no timing)."""
    try:
        with connection.cursor() as cursor:
            for _poll in range(10_000):
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
    finally:
        release.set()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_deleting_one_s_own_data_waits_for_a_row_another_request_holds(office, published) -> None:
    """The person pressed "delete": the page says deleted only when it is (it waits for the row
    another request holds, instead of skipping it as the nightly run does)."""
    from appointments.services.changes import cancel_appointment

    appointment = booked_at(office, published, 0, **TYPED)
    cancelled = cancel_appointment(appointment_id=appointment.pk, expected_revision=appointment.revision)
    client = Client(headers={"accept-language": "en"})
    session = client.session
    session["manage"] = {"id": appointment.pk, "seen": int(timezone.now().timestamp())}
    session.save()
    holding, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Appointment.objects.select_for_update().get(pk=appointment.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    other = threading.Thread(target=hold_the_row)
    other.start()
    assert holding.wait(timeout=10)
    threading.Thread(target=release_once_someone_waits, args=(release,)).start()
    try:
        done = client.post("/en/manage/delete/", {"revision": cancelled.revision})
    finally:
        release.set()
        other.join()
    assert "Your information is deleted" in done.content.decode()
    assert Appointment.objects.get(pk=appointment.pk).erased_at is not None


@pytest.mark.django_db
def test_answers_in_a_session_last_at_most_session_hours_after_the_last_step(client, published, settings) -> None:
    """The date of birth answered (half of the lookup secret) and the other answers of an abandoned
    screener or booking leave with the session, SESSION_HOURS after the last step, not weeks later."""
    from django.contrib.sessions.models import Session

    from tests.eligibility.test_flow import GUATEMALAN_WITH_PETITION, Q, answer_all

    client.get(Q)
    answer_all(client, GUATEMALAN_WITH_PETITION)
    session = Session.objects.get(session_key=client.session.session_key)
    assert "date_of_birth" in str(session.get_decoded())
    assert session.expire_date <= timezone.now() + datetime.timedelta(hours=settings.SESSION_HOURS)
    assert settings.SESSION_HOURS <= 24
    assert f"Max-Age={settings.SESSION_HOURS * 3600}" in str(client.cookies["sessionid"].output())
