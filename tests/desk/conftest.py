"""An office whose "today" is around midday wherever the suite runs, open all day every day, with
appointments booked for today; desk staff and staff of another office."""

import datetime
import uuid
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment, Office, Slot
from appointments.services.booking import book_appointment
from appointments.services.slots import generate_slots
from core.services import ROLE_OFFICE_STAFF, ensure_roles
from desk.models import Counter, DeskSettings
from desk.services import day_bounds
from tests.appointments.conftest import OfficeFactory, _english, details, make_screening  # noqa: F401 - a fixture
from tests.conftest import sign_in

# Zones a few hours apart: one of them is near midday whenever the suite runs.
ZONES = [
    "Pacific/Kiritimati",
    "Pacific/Auckland",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Moscow",
    "Europe/Madrid",
    "America/Sao_Paulo",
    "America/Bogota",
    "America/Denver",
    "Pacific/Honolulu",
]
ALL_DAY = [(day, datetime.time(0), datetime.time(23, 30), 3) for day in range(7)]


def midday_zone(now: datetime.datetime) -> str:
    return min(ZONES, key=lambda name: abs(now.astimezone(zoneinfo.ZoneInfo(name)).hour + 0.5 - 12.5))


def make_office(name: str = "Desk office", **extra: Any) -> Office:
    now = timezone.now()
    extra.setdefault("time_zone", midday_zone(now))
    office = OfficeFactory(name=name, hours=ALL_DAY, **extra)
    start, _ = day_bounds(office, office.local_today(now))
    generate_slots(office=office, now=start)
    Counter.objects.bulk_create([Counter(office=office, number=n) for n in (1, 2, 3)])
    # Wide check-in window, so the views work at any time of the suite's day.
    DeskSettings.objects.create(office=office, check_in_before_minutes=24 * 60, check_in_after_minutes=24 * 60)
    return office


def book_today(office: Office, published, n: int, *, slot: Slot | None = None, **overrides: Any) -> Appointment:
    """Book a place of today at the office (as if booked two days before)."""
    start, end = day_bounds(office, office.local_today(timezone.now()))
    slot = (
        slot
        or Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end).order_by("starts_at")[n % 40]
    )
    values = {"document_number": f"DESK{office.pk}X{n}", "full_name": f"Persona {n}", **overrides}
    return book_appointment(
        screening=make_screening(published, created_at=start - datetime.timedelta(days=2)),
        slot_id=slot.pk,
        details=details(**values),
        booking_key=uuid.uuid4(),
        now=start - datetime.timedelta(days=2),
    )


@pytest.fixture
def desk_office(published) -> Office:
    return make_office()


@pytest.fixture
def other_office(published) -> Office:
    return make_office("Other office")


def staff_of(*offices: Office, name: str = "desk", role: str = ROLE_OFFICE_STAFF):
    ensure_roles()
    user = get_user_model().objects.create_user(username=name, password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for office in offices:
        office.staff.add(user)
    client = Client(headers={"accept-language": "en"})
    sign_in(client, user)
    return client, user
