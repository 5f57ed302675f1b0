"""Requests for scarce places per client address (FAIR_REQUEST_RATE): lottery requests and waitlist
entries sent from one address. The one just under the limit passes; the one over it gets the form
again (429) with what was typed and when to try again. Fails closed: without Redis to count, the
places could be flooded with made-up requests. At an office that verifies phones it counts each
details form sent (each sends a code by SMS), not the requests made when a code is entered; staff
acting on a person's behalf are not counted."""

import re
import uuid

import pytest
from django.test import Client

from allocation.models.lottery import LotteryRequest
from allocation.models.waitlist import WaitlistEntry
from eligibility.services import screening_reference
from notifications.models import Notification
from tests.allocation.test_lottery import lottery_office, make_draw, post_request
from tests.allocation.test_waitlist import form_data, full_office, url
from tests.appointments.conftest import make_screening
from tests.desk.conftest import staff_of

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


def test_at_an_office_that_verifies_phones_each_details_form_sent_counts(published, address):
    """Sending the details sends a code by SMS: that is counted, whether or not a code is entered
    later; entering the code is not (its own tries limit it)."""
    office = lottery_office(verify_phone=True)
    make_draw(office)
    first = person(published, address)
    for n, client in ((1, first), (2, person(published, address))):
        response = post_request(client, office, n, language="en")
        assert response["Location"] == f"/en/lottery/{office.slug}/code/"
    over = post_request(person(published, address), office, 3, language="en", full_name="Tercera Persona Limite")
    assert over.status_code == 429
    assert_try_again(over)
    assert "Tercera Persona Limite" in over.content.decode()
    assert Notification.objects.filter(kind="phone_code").count() == 2  # none for the third
    assert not LotteryRequest.objects.exists()  # nothing counted in the draw yet
    # Over the limit, the code of a form sent before still makes its request.
    code = Notification.objects.filter(kind="phone_code").order_by("pk").first().details["code"]
    response = first.post(f"/en/lottery/{office.slug}/code/", {"code": code})
    assert response["Location"] == f"/en/lottery/{office.slug}/requested/"
    assert LotteryRequest.objects.count() == 1


def test_staff_acting_on_a_person_s_behalf_are_not_counted(published, full_office):
    """A desk computer or a call centre serves everyone, as for holds."""
    client, _user = staff_of(full_office)
    for n in range(1, 4):
        reference = screening_reference(make_screening(published))
        assert client.get("/en/book/", {"screening": reference}).status_code == 302
        assert client.post(url("allocation:waitlist-join", full_office.slug), {"party_size": "2"}).status_code == 302
        data = form_data(document_number=f"S{n:07d}", phone=f"300 556 {n:04d}")
        assert client.post(url("allocation:waitlist-details", full_office.slug), data).status_code == 302
    assert WaitlistEntry.objects.count() == 3
