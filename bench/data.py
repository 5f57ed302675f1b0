"""The rows the benchmarks start from: the schema and the screener, offices, eligible screenings,
slots and booked appointments. Imports models: import it after bench.common.setup_django()."""

import datetime
import uuid
from typing import Any

from django.apps import apps
from django.core.management import call_command

from appointments.models import Appointment, Office, OpeningHours, Slot
from eligibility import seed
from eligibility.models import Pathway, ScreenerVersion, Screening
from eligibility.services import screening_reference


def prepare_database() -> None:
    """The schema, and the published screener with its pathways."""
    call_command("migrate", verbosity=0)
    seed.load(apps)


def make_office(
    slug: str,
    name: str,
    *,
    address: str = "Calle 26 #69-76",
    country: str = "CO",
    city: str = "Bogotá",
    time_zone: str = "America/Bogota",
    **fields: Any,
) -> Office:
    """An office for every pathway, in Bogotá unless said otherwise; `fields`: its other settings."""
    office = Office.objects.create(
        name=name, slug=slug, country=country, city=city, time_zone=time_zone, address_en=address,
        address_es=address, **fields,
    )  # fmt: skip
    office.pathways.set(Pathway.objects.all())
    return office


def open_every_day(office: Office, *, opens: int, closes: int, capacity: int) -> None:
    """Opening hours from `opens` to `closes` o'clock on every day of the week."""
    for weekday in range(7):
        OpeningHours.objects.create(
            office=office, weekday=weekday, opens=datetime.time(opens), closes=datetime.time(closes), capacity=capacity
        )


def eligible_screenings(n: int) -> list[Screening]:
    """`n` screenings of the published screener, eligible for every pathway, as a finished
    screener writes them (with no answers: the screener is not what is measured)."""
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    outcomes = {
        p.code: {"eligible": True, "reasons": {"en": [], "es": []}, "order": p.order, "bring": {"en": "", "es": ""}}
        for p in Pathway.objects.all()
    }
    return Screening.objects.bulk_create(
        [Screening(version=version, answers={}, outcomes=outcomes, language="es") for _ in range(n)], batch_size=1000
    )


def eligible_references(n: int) -> list[str]:
    """The references of `n` new eligible screenings, as a result page's booking link carries them."""
    return [screening_reference(screening) for screening in eligible_screenings(n)]


def full_slots(
    office: Office, *, count: int, first: datetime.datetime, every: datetime.timedelta, length: datetime.timedelta,
    capacity: int,
) -> list[Slot]:  # fmt: skip
    """`count` slots, one every `every` from `first`, each `length` long with all its places taken."""
    return Slot.objects.bulk_create(
        Slot(office=office, starts_at=first + i * every, ends_at=first + i * every + length, capacity=capacity,
             taken=capacity)
        for i in range(count)
    )  # fmt: skip


def booked_appointments(
    count: int,
    *,
    slots: list[Slot],
    screening: Screening,
    now: datetime.datetime,
    email_every: int = 0,
    letters: str = "23456789AB",
    document: str = "B",
) -> list[Appointment]:
    """`count` booked appointments spread over `slots` in turn, each with its own reference (nine of
    `letters`), name, document (`document` and seven digits) and phone; an e-mail address for one
    in `email_every` (0: none); Spanish for two in three, English for the others."""
    digits = str.maketrans("0123456789", letters)
    return Appointment.objects.bulk_create(
        Appointment(
            reference=f"{n:09d}".translate(digits),
            office_id=slots[n % len(slots)].office_id,
            slot=slots[n % len(slots)],
            screening=screening,
            booking_key=uuid.uuid4(),
            full_name=f"Persona {n}",
            date_of_birth=datetime.date(1985, 1, 1),
            nationality="VE",
            document_type="passport",
            document_number=f"{document}{n:07d}",
            document_country="VE",
            phone=f"+5730{n:08d}",
            email=f"persona{n}@example.org" if email_every and n % email_every == 0 else "",
            language="es" if n % 3 else "en",
            consent_at=now,
        )
        for n in range(count)
    )
