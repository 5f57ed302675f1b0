"""A lottery request in chromium at 360 px, axe-core on every page: the questions → the office's
lottery page with the published hash → how many people → details → the code sent by SMS (read
from the file the worker wrote, a wrong one first) → the request's confirmation; then the draw
(the beat task), the offer SMS written by a real worker, and the place confirmed."""

import datetime
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from allocation import lottery_services
from allocation.models.lottery import Draw, LotteryRequest
from allocation.tasks.lottery import run_lotteries
from appointments.models import Appointment, Office
from appointments.services.slots import generate_slots
from eligibility import seed
from eligibility.models import ScreenerVersion
from notifications.models import Notification
from tests.allocation.test_waitlist import add_slot, book
from tests.appointments.conftest import OfficeFactory, make_screening
from tests.browser.conftest import CheckedPage
from tests.browser.test_booking import answer_screener

OFFICE = "Oficina de Movilidad Segura Guatemala"


def wait_until(condition: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {seconds} s: {condition.__doc__ or condition}")


@pytest.fixture
def sms_folder(tmp_path: Path) -> Path:
    return tmp_path / "sms"


@pytest.fixture
def worker_env(sms_folder: Path, live_server: Any) -> dict[str, str]:
    return {
        "SMS_BACKEND": "notifications.sms.FileBackend",
        "SMS_FILE_PATH": str(sms_folder),
        "SITE_URL": live_server.url,
    }


@pytest.fixture
def draw(transactional_db: None, live_server: Any, settings: Any) -> Draw:
    settings.SITE_URL = live_server.url
    seed.load(apps)
    office = OfficeFactory(
        name=OFFICE,
        country="GT",
        city="Ciudad de Guatemala",
        time_zone="America/Guatemala",
        address_es="12 Calle 1-25, Zona 10",
        address_en="12 Calle 1-25, Zona 10",
        pathways=["refugee", "family-reunification", "temporary-work"],
        hours=[(day, datetime.time(8), datetime.time(9), 1) for day in range(7)],
        allocation=Office.Allocation.LOTTERY,
        verify_phone=True,  # as offices are by default: the request waits for the code sent by SMS
    )
    now = timezone.now()
    generate_slots(office=office, now=now)
    day = office.local_today(now) + datetime.timedelta(days=4)
    draw = Draw.objects.create(
        office=office,
        opens_at=now - datetime.timedelta(hours=1),
        closes_at=now + datetime.timedelta(hours=1),
        period_start=day,
        period_end=day,
    )
    lottery_services.open_draw(draw_id=draw.pk)
    draw.refresh_from_db()
    connections.close_all()
    return draw


def sms_texts(folder: Path) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))] if folder.exists() else []


def enter_code_from_sms(checked: CheckedPage, folder: Path, *, purpose: str, button: str, screenshot: str) -> None:
    """The code page at 360 px: what the code is for, the number masked; a wrong code refused
    (the page again, with the message), then the code from the SMS the worker wrote."""
    page = checked.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the code we sent you")
    checked.check_accessibility()
    expect(page.get_by_text(purpose)).to_be_visible()
    expect(page.get_by_text("+502 512 *** 67")).to_be_visible()
    [sms] = wait_until(lambda: [text for text in sms_texts(folder) if "your code is" in text])
    assert sms.startswith("To: +50251234567\n")
    code = re.search(r"\b([0-9]{6})\b", sms)[1]
    checked.screenshot(f"{screenshot}-360")
    page.get_by_label("Code", exact=True).fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name=button, exact=True).click()
    checked.check_accessibility()
    expect(page.get_by_role("alert")).to_contain_text("This code is not right")
    checked.screenshot(f"{screenshot}-error-360")
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name=button, exact=True).click()
    checked.check_accessibility()


def test_a_lottery_request_drawn_offered_and_confirmed(
    draw: Draw, celery_worker: Any, checked_page: CheckedPage, sms_folder: Path
) -> None:
    checked, page = checked_page, checked_page.page
    elsewhere, version = OfficeFactory(hours=[]), ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    for days, document in ((5, "G7000001"), (6, "G7000002")):
        book(add_slot(elsewhere, days=days), make_screening(version), document, phone="+50251239999")
    page.set_viewport_size({"width": 360, "height": 800})
    answer_screener(checked, "en")
    page.get_by_role("link", name="Book an appointment").first.click()
    # The only office where the person lives takes places by lottery: its page, not the days.
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Places by lottery at {OFFICE}")
    expect(page.get_by_text(draw.seed_hash)).to_be_visible()
    expect(page.get_by_text("random draw").first).to_be_visible()
    checked.screenshot("lottery-office-360")
    page.get_by_role("link", name="Ask for a place").click()
    checked.check_accessibility()
    checked.screenshot("lottery-people-360")
    page.get_by_role("button", name="Continue").click()
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")
    page.get_by_role("button", name="Continue", exact=True).click()  # nothing typed: the errors
    checked.check_accessibility()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    checked.screenshot("lottery-request-errors-360")
    page.fill("#id_full_name", "María José Pérez López")
    page.get_by_label("Passport", exact=True).check()
    page.fill("#id_document_number", "G 1234 5678")
    page.select_option("#id_document_country", "GT")
    page.fill("#id_phone", "5123 9999")  # a number with its 2 appointments already
    page.locator("input[name=language][value=en]").check()
    page.locator("#id_consent").check()
    page.get_by_role("button", name="Continue", exact=True).click()
    checked.check_accessibility()
    expect(page.get_by_role("alert")).to_contain_text("This mobile phone number already has 2 appointments")
    expect(page.locator("#id_phone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_full_name")).to_have_value("María José Pérez López")
    checked.screenshot("lottery-request-phone-at-its-cap-360")
    assert not Notification.objects.filter(kind=Notification.Kind.PHONE_CODE).exists(), "no code to that number"
    page.fill("#id_phone", "5123 4567")
    page.locator("#id_consent").check()
    page.get_by_role("button", name="Continue", exact=True).click()
    assert not LotteryRequest.objects.exists()  # not in the draw before the code
    enter_code_from_sms(
        checked,
        sms_folder,
        purpose=f"Your request for the lottery of {OFFICE} is sent only when you enter this code.",
        button="Send my request",
        screenshot="lottery-phone-code",
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is registered")
    made = LotteryRequest.objects.get()
    expect(page.get_by_text(lottery_services.display_number(made.number))).to_be_visible()
    checked.screenshot("lottery-requested-360")
    wait_until(lambda: any("is in the lottery" in text for text in sms_texts(sms_folder)))

    # The window ends; the beat's task draws.
    Draw.objects.filter(pk=draw.pk).update(closes_at=timezone.now() - datetime.timedelta(seconds=1))
    run_lotteries()
    offer = wait_until(lambda: [text for text in sms_texts(sms_folder) if "won a place" in text])
    assert "To: +50251234567" in offer[0]
    link = re.search(r"(http://\S+/lottery-offer/\S+/)", offer[0]).group(1)
    checked.goto(link.removeprefix(checked.base_url))
    expect(page.get_by_role("heading", level=1)).to_have_text("A place for you")
    checked.screenshot("lottery-offer-360")
    page.get_by_role("button", name="Confirm this appointment").click()
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your appointment is booked")
    # Places here go by the draw: cancelling passes one down the order, no move to a free time.
    expect(page.get_by_text("Places at this office are given by a draw, so the time cannot be")).to_be_visible()
    expect(page.get_by_role("link", name="Move to another time")).to_have_count(0)
    expect(page.get_by_text("you need it to find or cancel your appointment")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel the appointment")).to_be_visible()
    checked.screenshot("lottery-booked-360")
    appointment = Appointment.objects.get(office=draw.office)
    made.refresh_from_db()
    assert made.status == LotteryRequest.Status.BOOKED
    assert made.appointment == appointment
    # The revealed seed on the office's page matches the hash published before.
    checked.goto(f"/en/lottery/{draw.office.slug}/")
    draw.refresh_from_db()
    expect(page.get_by_text(draw.seed, exact=True)).to_be_visible()
    checked.screenshot("lottery-drawn-360")
