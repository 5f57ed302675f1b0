"""A winner who cannot come gives the place up from the offer page in chromium at 360 px, axe-core
on every page: the offer → "I cannot come" → the confirmation step → the place passed down; the
link then says it no longer works."""

import re
from typing import Any

from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from allocation import lottery_services
from allocation.models.lottery import Draw, LotteryRequest
from notifications.models import Notification
from tests.allocation.test_lottery import values
from tests.appointments.conftest import make_screening
from tests.browser.conftest import CheckedPage
from tests.browser.test_lottery import draw  # noqa: F401 - the fixture: an open draw, one place a day

Status = LotteryRequest.Status


def test_a_winner_gives_the_place_up_and_the_next_gets_it(draw: Draw, checked_page: CheckedPage, published: Any):  # noqa: F811
    checked, page = checked_page, checked_page.page
    page.set_viewport_size({"width": 360, "height": 800})
    for n in range(2):
        screening = make_screening(published)
        lottery_services.submit_request(
            draw_id=draw.pk, screening_id=screening.pk, values=values(n, language="en", nationality="GT")
        )
    Draw.objects.filter(pk=draw.pk).update(closes_at=timezone.now())
    lottery_services.run_draw(draw_id=draw.pk)
    first, second = LotteryRequest.objects.order_by("position")
    sms = Notification.objects.get(recipient=first.phone.as_e164, details__event="won")
    link = re.search(r"/en/lottery-offer/[^/]+/", sms.details["url"]).group(0)
    connections.close_all()

    checked.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("A place for you")
    checked.screenshot("lottery-offer-decline-360")
    page.get_by_role("button", name="I cannot come").click()
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Give up this place?")
    checked.screenshot("lottery-decline-confirm-360")
    page.get_by_role("link", name="No, keep my place").click()
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("A place for you")
    page.get_by_role("button", name="I cannot come").click()
    checked.check_accessibility()
    page.get_by_role("button", name="Yes, give up my place").click()
    checked.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("You gave up the place")
    checked.screenshot("lottery-declined-360")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.DECLINED, Status.OFFERED)
    checked.goto(link)
    expect(page.get_by_text("You gave up this place, so it went to the next person in the order")).to_be_visible()
    checked.screenshot("lottery-declined-link-360")
