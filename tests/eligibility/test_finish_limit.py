"""Finished screenings per address per hour (SCREENING_FINISH_RATE), counted where the last answer
is posted: the one just under the limit passes, the one over it gets the page again (429) with the
answers kept and when to try again. Fails open when Redis is down."""

import re
import uuid

import pytest
from django.core.cache import caches
from django.test import Client

from eligibility.models import ScreenerVersion, Screening
from tests.eligibility.test_flow import GUATEMALAN_WITH_PETITION, Q, answer_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def address() -> str:
    # An address of this test's own: the counts are in Redis, which outlives the test.
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture
def limit(settings) -> None:
    settings.SCREENING_FINISH_RATE = "2/h"


def person(address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.get(Q)
    return client


def finish_at_check(client: Client):
    answer_all(client, GUATEMALAN_WITH_PETITION)
    return client.post(f"{Q}check/")


def assert_try_again(response) -> int:
    """The page says in how many minutes to try again, and Retry-After says the same."""
    html = response.content.decode()
    found = re.search(r"Please try again in (\d+) minutes?", html)
    assert found, html
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 3600
    assert int(found[1]) == -(-seconds // 60)
    return seconds


def test_the_screening_over_the_hourly_limit_is_refused_with_the_answers_kept(
    published: ScreenerVersion, address: str, limit: None, settings
) -> None:
    for _ in range(2):  # up to the limit: results shown
        assert finish_at_check(person(address))["Location"] == f"{Q}result/"
    third = person(address)
    response = finish_at_check(third)
    assert response.status_code == 429
    assert_try_again(response)
    html = response.content.decode()
    assert "<h1>Check your answers</h1>" in html, "the check page again, to submit later"
    assert "17/5/1990" in html
    assert "Many screenings were finished from this connection in the last hour" in html
    assert Screening.objects.count() == 2
    assert third.session["screener"]["answers"]["i130_approved"] == "yes", "the answers are kept"
    # Another address is not affected.
    assert finish_at_check(person("192.0.2.7"))["Location"] == f"{Q}result/"
    # Later (a new window: here a new limit), the same page is submitted again and the result shown.
    settings.SCREENING_FINISH_RATE = "3/h"
    assert third.post(f"{Q}check/")["Location"] == f"{Q}result/"
    assert Screening.objects.count() == 4


def test_a_screening_that_stops_early_over_the_limit_keeps_the_answer_chosen(
    published: ScreenerVersion, address: str, limit: None
) -> None:
    for _ in range(2):
        client = person(address)
        client.post(f"{Q}current_country/", {"answer": "CO"})
        assert client.post(f"{Q}nationality/", {"answer": "CO"})["Location"] == f"{Q}result/"
    client = person(address)
    client.post(f"{Q}current_country/", {"answer": "CO"})
    response = client.post(f"{Q}nationality/", {"answer": "CO"})
    assert response.status_code == 429
    assert_try_again(response)
    html = response.content.decode()
    assert re.search(r'<option value="CO" selected>', html), "the answer stays chosen"
    assert "Many screenings were finished from this connection in the last hour" in html
    assert Screening.objects.count() == 2


def test_without_redis_screenings_still_finish(published: ScreenerVersion, address: str, limit: None, settings) -> None:
    # Fails open: a screening is anonymous and takes nothing scarce.
    dead = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {**settings.CACHES, "default": dead}
    caches["default"]  # the handler is rebuilt for the new settings
    for _ in range(3):
        assert finish_at_check(person(address))["Location"] == f"{Q}result/"
    assert Screening.objects.count() == 3
