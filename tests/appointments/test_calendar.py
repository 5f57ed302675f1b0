"""What the appointment's documents say to the programs that read them: the QR code's geometry
and the calendar file, parsed as a calendar program parses it."""

import re
import xml.etree.ElementTree as ET

import pytest
import segno
from icalendar import Calendar

from appointments.calendar import ics, qr_svg
from appointments.models import Appointment
from appointments.services.booking import book_appointment
from tests.appointments.conftest import NOW, details, first_slot, key

pytestmark = pytest.mark.django_db


@pytest.fixture
def appointment(office, screening) -> Appointment:
    return book_appointment(
        screening=screening, slot_id=first_slot(office).pk, details=details(), booking_key=key(), now=NOW
    )


def dark_modules(path: str) -> set[tuple[int, int]]:
    """The modules a segno line path paints: `M x y` / `m dx dy` moves, `h n` draws n modules."""
    cells, x, y = set(), 0.0, 0.0
    for move, dx, dy, length in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", path):
        x, y = (float(dx), float(dy)) if move == "M" else (x + float(dx), y + float(dy))
        cells.update((int(x) + i, int(y)) for i in range(int(length)))
        x += int(length)
    assert re.fullmatch(r"(?:[Mm]-?[\d.]+ -?[\d.]+h\d+)+", path), "a path this test cannot read"
    return cells


def test_the_qr_code_scales_with_its_box_and_has_a_four_module_quiet_zone(appointment):
    svg = ET.fromstring(str(qr_svg(appointment)))  # noqa: S314 - our own output
    code = segno.make(appointment.reference, error="m", micro=False)
    size = code.symbol_size(scale=1, border=0)[0]  # modules across, without the quiet zone
    whole = size + 2 * 4
    assert svg.get("viewBox") == f"0 0 {whole * 5} {whole * 5}"
    assert svg.get("role") == "img"
    assert appointment.display_reference in svg.get("aria-label")
    background, line = sorted(svg.iter("path"), key=lambda path: "fill" not in path.attrib)
    assert background.get("fill") == "#fff"  # the quiet zone is light whatever the page behind it
    painted = dark_modules(line.get("d"))
    expected = {(col + 4, row + 4) for row, cells in enumerate(code.matrix) for col, dark in enumerate(cells) if dark}
    assert painted == expected
    assert min(x for x, _ in painted) == min(y for _, y in painted) == 4
    assert max(x for x, _ in painted) == max(y for _, y in painted) == whole - 1 - 4


def parse_calendar(data: bytes) -> Calendar:
    """Parsed as a calendar program does; icalendar refuses what is not iCalendar."""
    calendar = Calendar.from_ical(data)
    assert calendar.errors == []
    return calendar


@pytest.mark.parametrize(
    ("site_url", "domain"),
    [("https://citas.example.org", "citas.example.org"), ("http://127.0.0.1:8000", "127.0.0.1")],
)
def test_the_calendar_uid_carries_the_site_s_own_domain(appointment, settings, site_url, domain):
    settings.SITE_URL = site_url
    (event,) = parse_calendar(ics(appointment)).events
    assert str(event["UID"]) == f"{appointment.reference}@{domain}"
