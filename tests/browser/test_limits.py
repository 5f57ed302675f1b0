"""A limit's refusal in a real browser, on a small screen: the page the person was on, with what
they chose still chosen, the message saying when to try again, and no accessibility violation."""

import datetime
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.db import connections
from playwright.sync_api import expect

from appointments.services.booking import hold_slot
from appointments.services.slots import generate_slots
from core.limits import keyed_hash
from eligibility import seed
from eligibility.models import ScreenerVersion
from eligibility.services import screening_reference
from tests.appointments.conftest import OfficeFactory, make_screening
from tests.appointments.test_pages import bookable, url
from tests.browser.conftest import CheckedPage


@pytest.fixture(autouse=True)
def _seeded(transactional_db: None) -> None:
    seed.load(apps)
    connections.close_all()


def test_a_screening_over_the_hourly_limit_keeps_the_answer_and_says_when(
    checked_page: CheckedPage, settings: Any
) -> None:
    settings.SCREENING_FINISH_RATE = "0/h"  # every screening finished from here is over it
    page = checked_page.page
    page.set_viewport_size({"width": 360, "height": 740})
    checked_page.goto("/en/questions/")
    page.locator("select#id_answer").select_option("CO")
    page.get_by_role("button", name="Continue").click()
    checked_page.check_accessibility()
    # A Colombian in Colombia: no route can fit, so this answer finishes the screening.
    page.locator("select#id_answer").select_option("CO")
    page.get_by_role("button", name="Continue").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Please try again in \d+ minutes?\."))
    expect(page.get_by_role("status")).to_contain_text("Your answers are kept on this device")
    expect(page.locator("select#id_answer")).to_have_value("CO")
    checked_page.screenshot("limit-screening-360-en")
    checked_page.verify()


def test_a_time_over_the_live_hold_cap_stays_chosen_and_says_when(checked_page: CheckedPage, settings: Any) -> None:
    settings.HOLD_LIVE_PER_ADDRESS = 1
    settings.HOLD_RATE = "994/m"
    office = OfficeFactory(
        name="Oficina Bogotá Centro", hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)]
    )
    generate_slots(office=office)
    slot = bookable(office)
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    # Another browser on this connection (the browser's address here) holds a time already.
    hold_slot(slot_id=slot.pk, screening=make_screening(version), address=keyed_hash("127.0.0.1", purpose="address"))
    screening = make_screening(version)
    page = checked_page.page
    page.set_viewport_size({"width": 360, "height": 740})
    reference = urlencode({"screening": screening_reference(screening)})
    checked_page.goto(f"/en/book/?{reference}")
    checked_page.goto(url("choose-slot", office.slug, slot.local_start().date(), lang="en"))
    page.get_by_role("radio").first.check()
    chosen = page.get_by_role("radio").first.get_attribute("value")
    page.get_by_role("button", name="Continue").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("status")).to_contain_text("Too many times are held from this connection at once")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"Please try again in \d+ minutes?, at \d\d:\d\d\."))
    expect(page.locator(f'input[name="slot"][value="{chosen}"]')).to_be_checked()
    checked_page.screenshot("limit-hold-360-en")
    checked_page.verify()
