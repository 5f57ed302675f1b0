"""A winner who cannot come gives up the place from the offer page (a POST with CSRF, after a
confirmation step): it passes down the order at once, as the waitlist's "No thanks" does. A link
declined, expired or already used to book cannot be used again: a clear page, a 4xx."""

import datetime
import re
from typing import Any

import pytest
from django.test import Client

from allocation import lottery_services
from allocation.models.lottery import LotteryRequest
from appointments.models import Appointment, Hold
from core.services import ROLE_OFFICE_STAFF
from tests.allocation.test_lottery import (
    HOUR,
    after_close,
    lottery_office,
    make_draw,
    offers,
    request_for,
    staff_in,
)

pytestmark = pytest.mark.django_db
Status = LotteryRequest.Status
SITE = "https://citas.example.org"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = SITE
    settings.LOTTERY_CONFIRM_HOURS = 24


@pytest.fixture
def drawn(published: Any) -> tuple[LotteryRequest, LotteryRequest, str]:
    """One place, two requests, drawn: the first in the order holds the place offered; returns
    both and the first's offer link (a path, in English)."""
    office = lottery_office()
    draw = make_draw(office)
    for n in range(2):
        request_for(draw, published, n, language="en")
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    first, second = LotteryRequest.objects.order_by("position")
    (won,) = offers("won")
    assert won.recipient == first.phone.as_e164
    return first, second, won.details["url"].removeprefix(SITE)


def token_in(url: str) -> str:
    return re.search(r"/lottery-offer/([^/]+)/", url).group(1)


def test_the_offer_page_offers_to_give_the_place_up(drawn):
    _first, _second, url = drawn
    page = Client().get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "I cannot come" in text
    assert 'name="action" value="decline"' in text
    assert "csrfmiddlewaretoken" in text


def test_declining_asks_first_then_passes_the_place_down_at_once(drawn):
    first, second, url = drawn
    client = Client()
    asked = client.post(url, {"action": "decline"})
    assert asked.status_code == 200
    text = asked.content.decode()
    assert "Give up this place?" in text
    assert "goes at once to the next person in the order" in text
    assert 'name="confirm" value="yes"' in text
    first.refresh_from_db()
    assert first.status == Status.OFFERED  # nothing changes before the person confirms

    done = client.post(url, {"action": "decline", "confirm": "yes"})
    assert done.status_code == 200
    assert "You gave up the place" in done.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.DECLINED
    assert first.passed_at is not None
    assert not Hold.objects.filter(token=first.hold_token).exists()
    # The next in the order has it now, held for them and told by SMS.
    assert second.status == Status.OFFERED
    assert second.slot_id == first.slot_id
    assert Hold.objects.filter(token=second.hold_token, slot=second.slot).exists()
    assert [n.recipient for n in offers("passed_down")] == [second.phone.as_e164]
    second.slot.refresh_from_db()
    assert second.slot.taken == 1 == second.slot.capacity
    assert not Appointment.objects.exists()


def test_a_declined_link_cannot_be_used_again(drawn):
    first, _second, url = drawn
    lottery_services.decline_offer(token=token_in(url))
    client = Client()
    for response in (
        client.get(url),
        client.post(url),
        client.post(url, {"action": "decline", "confirm": "yes"}),
    ):
        assert response.status_code == 410
        assert "You gave up this place, so it went to the next person in the order" in response.content.decode()
    assert not Appointment.objects.exists()
    first.refresh_from_db()
    assert first.status == Status.DECLINED
    with pytest.raises(lottery_services.LotteryError) as again:
        lottery_services.decline_offer(token=token_in(url))
    assert again.value.code == lottery_services.LotteryErrorCode.DECLINED


def test_an_expired_offer_cannot_be_declined_nor_confirmed(drawn):
    first, second, url = drawn
    expired = first.offer_expires_at + datetime.timedelta(minutes=1)
    with pytest.raises(lottery_services.LotteryError) as late:
        lottery_services.decline_offer(token=token_in(url), now=expired)
    assert late.value.code == lottery_services.LotteryErrorCode.EXPIRED
    lottery_services.expire_offers(now=expired)
    client = Client()
    for response in (client.get(url), client.post(url, {"action": "decline", "confirm": "yes"})):
        assert response.status_code == 410
        assert "This offer is over" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.PASSED, Status.OFFERED)


def test_a_confirmed_place_cannot_be_declined_by_its_link(drawn):
    first, _second, url = drawn
    client = Client()
    assert client.post(url).status_code == 302  # confirmed: an appointment
    response = Client().post(url, {"action": "decline", "confirm": "yes"})
    assert response.status_code == 410
    assert "This place is already confirmed" in response.content.decode()
    first.refresh_from_db()
    assert first.status == Status.BOOKED
    assert Appointment.objects.filter(status=Appointment.Status.BOOKED).count() == 1


def test_declining_needs_the_csrf_token(drawn):
    first, _second, url = drawn
    strict = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    assert strict.get(url).status_code == 200
    response = strict.post(url, {"action": "decline", "confirm": "yes"})
    assert response.status_code == 403
    first.refresh_from_db()
    assert first.status == Status.OFFERED


def test_a_wrong_link_cannot_decline_anything(drawn):
    first, _second, _url = drawn
    response = Client().post("/en/lottery-offer/not-the-token-at-all-xxxxxxxxx/", {"action": "decline"})
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    with pytest.raises(lottery_services.LotteryError) as wrong:
        lottery_services.decline_offer(token="not-the-token-at-all-xxxxxxxxx")
    assert wrong.value.code == lottery_services.LotteryErrorCode.LINK
    first.refresh_from_db()
    assert first.status == Status.OFFERED


def test_staff_see_the_declined_request_in_the_draws_counts(drawn):
    first, _second, url = drawn
    lottery_services.decline_offer(token=token_in(url), now=first.offered_at + HOUR)
    staff, user = staff_in(ROLE_OFFICE_STAFF, "counter")
    first.draw.office.staff.add(user)
    text = staff.get(f"/admin/allocation/draw/{first.draw_id}/change/").content.decode()
    assert "Declined, passed down: 1" in text
