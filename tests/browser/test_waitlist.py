"""The waitlist in chromium, axe-core on every page: a person finds every time taken and joins the
office's waitlist (once the code sent by SMS, read from the worker's file, is entered), someone
cancels, the worker offers the place by SMS (a file of the file backend), the person opens the
link and takes the place."""

import datetime
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from allocation.models import WaitlistEntry
from allocation.waitlist_services import join_waitlist
from appointments.models import Appointment, Office, Slot
from appointments.services.booking import book_appointment
from appointments.services.changes import cancel_appointment
from eligibility import seed
from eligibility.models import ScreenerVersion
from tests.appointments.conftest import OfficeFactory, details, make_screening
from tests.browser.conftest import CheckedPage
from tests.browser.test_booking import answer_screener
from tests.browser.test_lottery import enter_code_from_sms

OFFICE = "Oficina de Movilidad Segura Guatemala"


@pytest.fixture
def full_office(transactional_db: None) -> Any:
    """The only office in Guatemala, its one time booked by someone else."""
    seed.load(apps)
    office = OfficeFactory(
        name=OFFICE,
        country="GT",
        city="Ciudad de Guatemala",
        time_zone="America/Guatemala",
        address_es="12 Calle 1-25, Zona 10",
        address_en="12 Calle 1-25, Zona 10",
        pathways=["refugee", "family-reunification", "temporary-work"],
        hours=[],
        max_party_size=3,
        verify_phone=True,  # as offices are by default: joining waits for the code sent by SMS
    )
    starts = (timezone.now() + datetime.timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    slot = Slot.objects.create(
        office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=1
    )
    version = apps.get_model("eligibility", "ScreenerVersion").objects.get(status="published")
    other = book_appointment(
        screening=make_screening(version),
        slot_id=slot.pk,
        details=details(document_number="X9999999", phone="+50251112222", nationality="GT", document_country="GT"),
        booking_key=uuid.uuid4(),
    )
    connections.close_all()
    return other


@pytest.fixture
def sms_folder(tmp_path: Path) -> Path:
    return tmp_path / "sms"


@pytest.fixture
def worker_env(sms_folder: Path, live_server: Any) -> dict[str, str]:
    """The worker writes SMS where the test reads them, with links to the test server."""
    return {"SMS_FILE_PATH": str(sms_folder), "SITE_URL": live_server.url}


def wait_for_sms(folder: Path, words: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        texts = [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))] if folder.exists() else []
        found = [text for text in texts if words in text]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no SMS with {words!r} in {texts}"
        time.sleep(0.2)


def test_join_the_waitlist_then_take_a_cancelled_place(
    checked_page: CheckedPage, full_office: Any, celery_worker: Any, sms_folder: Path, settings: Any, live_server: Any
) -> None:
    page = checked_page.page
    page.set_viewport_size({"width": 360, "height": 740})
    settings.SMS_FILE_PATH, settings.SITE_URL = str(sms_folder), live_server.url
    answer_screener(checked_page, "en")
    page.get_by_role("link", name="Book an appointment").first.click()
    checked_page.check_accessibility()
    # Every time is taken: the day page says so and offers the waitlist.
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a day")
    expect(page.get_by_text("Full", exact=True)).to_be_visible()
    checked_page.screenshot("waitlist-day-full-360")
    page.get_by_role("link", name="Join the waitlist").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Join the waitlist")
    checked_page.screenshot("waitlist-join-360")
    page.get_by_label("1", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    # Sent empty: the errors, checked by axe too.
    page.get_by_role("button", name="Continue", exact=True).click()
    checked_page.check_accessibility()
    expect(page.get_by_role("alert")).to_be_visible()
    checked_page.screenshot("waitlist-details-errors-360")
    page.fill("#id_full_name", "María José Pérez López")
    page.get_by_label("Passport", exact=True).check()
    page.fill("#id_document_number", "G 1234 5678")
    page.select_option("#id_document_country", "GT")
    # First the number of someone with an appointment already (one per number here): refused at
    # the phone number, what was typed kept, before any code is sent.
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    page.fill("#id_phone", "5111 2222")
    page.locator("input[name=language][value=en]").check()
    page.locator("#id_consent").check()
    page.get_by_role("button", name="Continue", exact=True).click()
    checked_page.check_accessibility()
    expect(page.get_by_text("This mobile phone number already has 1 appointment").first).to_be_visible()
    expect(page.locator("#id_document_number")).to_have_value("G 1234 5678")
    checked_page.screenshot("waitlist-phone-at-its-limit-360")
    assert not sms_folder.exists() or not list(sms_folder.glob("*.txt"))
    expect(page.locator("#id_consent")).to_be_checked()
    page.fill("#id_phone", "5123 4567")
    page.get_by_role("button", name="Continue", exact=True).click()
    assert not WaitlistEntry.objects.exists()  # not on the list before the code
    enter_code_from_sms(
        checked_page,
        sms_folder,
        purpose=f"You join the waitlist of {OFFICE} only when you enter this code.",
        button="Join the waitlist",
        screenshot="waitlist-phone-code",
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("You are on the waitlist")
    expect(page.get_by_text("You are first on the list.")).to_be_visible()
    checked_page.screenshot("waitlist-joined-360")
    joined = wait_for_sms(sms_folder, "We send an SMS when a place is free")
    assert "+50251234567" in joined

    # Someone cancels: the worker holds the place for her and sends the SMS.
    cancel_appointment(appointment_id=full_office.pk)
    offer = wait_for_sms(sms_folder, "A place is free for you")
    assert "+50251234567" in offer
    link = re.search(r"(http://\S+/en/waitlist/place/\S+/)", offer).group(1)
    page.context.clear_cookies()  # the SMS is opened on the phone, in a fresh browser
    page.goto(link)
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("A time is free for you")
    checked_page.screenshot("waitlist-offer-360")
    page.get_by_role("button", name="Take this place").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your appointment is booked")
    checked_page.screenshot("waitlist-booked-360")
    appointment = Appointment.objects.get(status="booked")
    assert (appointment.full_name, appointment.document_number) == ("María José Pérez López", "G12345678")
    assert WaitlistEntry.objects.get().status == WaitlistEntry.Status.BOOKED
    # The link is used up.
    page.goto(link)
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("We could not continue")

    # Another person on the list leaves it from the link of their SMS: the page that says so.
    office = Office.objects.get(name=OFFICE)
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    values = {
        "full_name": "Rosa Elena Caal", "nationality": "GT", "document_type": "passport",
        "document_number": "G87654321", "document_country": "GT", "date_of_birth": "1985-03-09",
        "phone": "+50251234599", "email": "", "language": "en", "party_size": 1, "companions": [],
    }  # fmt: skip
    _entry, token = join_waitlist(office=office, screening=make_screening(version), values=values)
    with translation.override("en"):
        page.goto(live_server.url + reverse("allocation:waitlist-place", args=[token]))
    checked_page.check_accessibility()
    page.get_by_role("button", name="Leave the waitlist").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("You left the waitlist")
    checked_page.screenshot("waitlist-left-360")
    assert WaitlistEntry.objects.get(document_number="G87654321").status == WaitlistEntry.Status.LEFT
