"""Offices, screenings and applicant details for the booking tests, at a fixed "now"."""

import datetime
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import factory
import pytest
from django.db import connections, models, transaction
from django.utils import translation

from appointments.models import Office, OpeningHours, Slot
from appointments.services.booking import ApplicantDetails
from appointments.services.slots import generate_slots
from eligibility.models import Pathway, ScreenerVersion, Screening

# A Monday morning in Bogotá (UTC−5): the booking tests pass this as "now".
NOW = datetime.datetime(2026, 11, 23, 13, 0, tzinfo=datetime.UTC)


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Oficina {n}")
    slug = factory.Sequence(lambda n: f"oficina-{n}")
    country = "CO"
    city = "Bogotá"
    address_en = "Calle 26 #59-51, Bogotá"
    address_es = "Calle 26 #59-51, Bogotá"
    time_zone = "America/Bogota"
    slot_minutes = 30
    min_notice_hours = 24
    horizon_days = 14
    hold_minutes = 10
    max_party_size = 4
    # On by default for real offices; the suite's offices book at "Confirm" as before, and the
    # tests of the code (tests/appointments/test_phone_codes.py, the browser journey) turn it on.
    verify_phone = False

    @factory.post_generation
    def pathways(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        codes = extracted if extracted is not None else ["refugee", "family-reunification"]
        self.pathways.set(Pathway.objects.filter(code__in=codes))

    @factory.post_generation
    def hours(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Monday to Friday 08:00–12:00, two counters, unless told otherwise."""
        for weekday, opens, closes, capacity in (
            extracted if extracted is not None else [(day, datetime.time(8), datetime.time(12), 2) for day in range(5)]
        ):
            OpeningHours.objects.create(office=self, weekday=weekday, opens=opens, closes=closes, capacity=capacity)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Service messages are checked against the English source (pages are checked in both)."""
    with translation.override("en"):
        yield


def make_screening(version: ScreenerVersion, eligible: tuple[str, ...] = ("refugee",), **extra: Any) -> Screening:
    """A screening shaped like `record_screening` makes them, eligible for the given pathways."""
    outcomes = {
        pathway.code: {
            "eligible": pathway.code in eligible,
            "reasons": {"en": [], "es": []},
            "order": pathway.order,
            **{
                field: {lang: getattr(pathway, f"{field}_{lang}") for lang in ("en", "es")}
                for field in ("name", "description", "bring")
            },
        }
        for pathway in Pathway.objects.all()
    }
    screening = Screening.objects.create(
        version=version, host_country="CO", answers={}, outcomes=outcomes, language="es"
    )
    if extra:
        Screening.objects.filter(pk=screening.pk).update(**extra)
        screening.refresh_from_db()
    return screening


@pytest.fixture
def screening(published: ScreenerVersion) -> Screening:
    return make_screening(published, created_at=NOW - datetime.timedelta(hours=1))


@pytest.fixture
def office(published: ScreenerVersion) -> Office:
    office = OfficeFactory()
    generate_slots(office=office, now=NOW)
    return office


def details(**overrides: Any) -> ApplicantDetails:
    values: dict[str, Any] = {
        "full_name": "María José Pérez",
        "date_of_birth": datetime.date(1990, 5, 17),
        "nationality": "VE",
        "document_type": "passport",
        "document_number": "P1234567",
        "document_country": "VE",
        "phone": "+573001234567",
        "language": "es",
        "email": "",
        "party_size": 1,
        "companions": [],
    }
    if "document_number" in overrides and "phone" not in overrides:
        values["phone"] = phone_of(str(overrides["document_number"]))
    values.update(overrides)
    return ApplicantDetails(**values)


def phone_of(document_number: str) -> str:
    """A mobile number of this person's own (ACTIVE_APPOINTMENTS_PER_PHONE lets a number have two
    appointments): tests that book for several people give each one."""
    return f"+57300{zlib.crc32(document_number.encode()) % 10**7:07d}"


def first_slot(office: Office, *, after: datetime.datetime | None = None) -> Slot:
    """The first slot that can still be booked a little after NOW (past the minimum notice)."""
    earliest = after or NOW + datetime.timedelta(hours=office.min_notice_hours + 1)
    return Slot.objects.filter(office=office, starts_at__gte=earliest).order_by("starts_at").first()


def key() -> uuid.UUID:
    return uuid.uuid4()


@contextmanager
def row_locked(row: models.Model) -> Iterator[None]:
    """Another connection holds the row's lock (a slot, an appointment) for as long as the block
    runs (needs data committed: transactional tests)."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                type(row).objects.select_for_update().get(pk=row.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10), "the row lock was never taken"
        yield
    finally:
        release.set()
        holder.join()


# An empty inline formset's management form.
MANAGEMENT = [("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000)]


def office_form(office: Office, **changes: Any) -> dict[str, Any]:
    """The office's admin page as sent with its current values, with `changes`, and no inline
    rows (opening hours, the desk's settings and counters, the history)."""
    return {
        "name": office.name,
        "slug": office.slug,
        "country": str(office.country),
        "city": office.city,
        "address_en": office.address_en,
        "address_es": office.address_es,
        "time_zone": office.time_zone,
        "active": "on",
        "pathways": [p.pk for p in office.pathways.all()],
        "staff": [user.pk for user in office.staff.all()],
        "slot_minutes": office.slot_minutes,
        "min_notice_hours": office.min_notice_hours,
        "horizon_days": office.horizon_days,
        "hold_minutes": office.hold_minutes,
        "max_party_size": office.max_party_size,
        "reminder_hours": office.reminder_hours,
        "allocation": office.allocation,
        **{f"{inline}-{key}": value for inline in ("hours", "desk", "counters", "events") for key, value in MANAGEMENT},
        **changes,
    }
