"""Every page of the public journey weighs under 50 KB on a first visit: the HTML as sent to a
browser that accepts gzip, plus every stylesheet, script, icon and image it links, nothing cached.

Static files are collected with the storage production uses (hashed, gzipped by whitenoise) and
served by whitenoise from there, as in production; the suite's own settings serve the source
folders instead (STATIC_MANIFEST=false).
"""

import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from appointments.services.slots import generate_slots
from tests.appointments.conftest import OfficeFactory
from tests.page_weight import LIMIT_BYTES, ClientHttp, Weight, weigh_journey

pytestmark = pytest.mark.django_db

JOURNEY = [
    "Start page",
    "A screener question",
    "Check your answers",
    "Result",
    "Booking: office",
    "Booking: day",
    "Booking: time",
    "Booking: how many people",
    "Booking: details",
    "Booking: check",
    "Booking: phone code",
    "Your appointment",
    "Manage: lookup",
    "Privacy notice",
    "Contact",
]


@pytest.fixture
def production_static(settings, tmp_path: Path) -> Path:
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    return tmp_path


@pytest.fixture
def office(published):
    office = OfficeFactory(
        name="Oficina de Movilidad Segura Guatemala",
        country="GT",
        city="Ciudad de Guatemala",
        time_zone="America/Guatemala",
        pathways=["refugee", "family-reunification", "temporary-work"],
        hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)],
        verify_phone=True,  # as offices are by default
    )
    generate_slots(office=office)
    return office


def table(weights: list[Weight]) -> str:
    return "\n".join(f"{w.total:>7,} bytes  {w.name} ({w.path}): {w.parts}" for w in weights)


@pytest.mark.parametrize("language", ["es", "en", "ht"])
def test_every_page_of_the_journey_is_under_50_kb(production_static: Path, office, language: str) -> None:
    # A new client after the settings changed: its whitenoise reads the collected files.
    http = ClientHttp(Client())
    weights = weigh_journey(http, language)
    assert [weight.name for weight in weights] == JOURNEY
    heavy = [weight for weight in weights if weight.total >= LIMIT_BYTES]
    assert heavy == [], f"over {LIMIT_BYTES:,} bytes:\n{table(heavy)}\n\nall pages:\n{table(weights)}"

    # Measured as production sends them: hashed names, gzipped HTML and static files.
    start = weights[0]
    stylesheets = [path for path in start.parts if path.endswith(".css")]
    assert len(stylesheets) == 2, start.parts
    for path in [start.path, *stylesheets]:
        response = http.get(path)
        assert response.header("Content-Encoding") == "gzip", path
    assert all(len(Path(path).suffixes) == 2 for path in stylesheets), "hashed names"
    assert all(weight.parts[weight.path] < 8_000 for weight in weights), table(weights)
