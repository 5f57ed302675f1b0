"""Requests for scarce places per client address (FAIR_REQUEST_RATE): lottery requests and waitlist
entries sent from one address. The one just under the limit passes; the one over it gets the form
again (429) with what was typed and when to try again. Fails closed: without Redis to count, the
places could be flooded with made-up requests."""

import re
import uuid

import pytest
from django.test import Client

from allocation.models.lottery import LotteryRequest
from allocation.models.waitlist import WaitlistEntry
from eligibility.services import screening_reference
from tests.allocation.test_lottery import lottery_office, make_draw, post_request
from tests.allocation.test_waitlist import form_data, full_office, url
from tests.appointments.conftest import make_screening

__all__ = ["full_office"]  # fixture
pytestmark = pytest.mark.django_db


@pytest.fixture
def address() -> str:
    # An address of this test's own: the counts are in Redis, which outlives the test.
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture(autouse=True)
def limit(settings) -> None:
    settings.FAIR_REQUEST_RATE = "2/h"


def person(published, address: str, language: str = "en") -> Client:
    client = Client(REMOTE_ADDR=address)
    reference = screening_reference(make_screening(published))
    assert client.get(f"/{language}/book/", {"screening": reference}).status_code == 302
    return client


def assert_try_again(response) -> None:
    html = response.content.decode()
    found = re.search(r"Please try again in (\d+) minutes?", html)
    assert found, html
    assert 0 < int(response["Retry-After"]) <= 3600


def test_lottery_requests_per_address(published, address):
    office = lottery_office()
    make_draw(office)
    for n in (1, 2):
        assert post_request(person(published, address), office, n, language="en").status_code == 302
    over = post_request(person(published, address), office, 3, language="en", full_name="Tercera Persona Limite")
    assert over.status_code == 429
    assert_try_again(over)
    assert "Tercera Persona Limite" in over.content.decode()  # what was typed is kept
    assert LotteryRequest.objects.count() == 2
    # Another address is not held back.
    assert post_request(person(published, "10.255.0.9"), office, 4, language="en").status_code == 302


def test_waitlist_entries_per_address(published, address, full_office):
    def join(n: int, **overrides):
        client = person(published, address)
        assert client.post(url("allocation:waitlist-join", full_office.slug), {"party_size": "2"}).status_code == 302
        data = form_data(document_number=f"W{n:07d}", phone=f"300 555 {n:04d}", **overrides)
        return client.post(url("allocation:waitlist-details", full_office.slug), data)

    assert join(1).status_code == 302
    assert join(2).status_code == 302
    over = join(3, full_name="Tercera Persona Limite")
    assert over.status_code == 429
    assert_try_again(over)
    assert "Tercera Persona Limite" in over.content.decode()
    assert WaitlistEntry.objects.count() == 2
