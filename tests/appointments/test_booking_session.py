"""Issue 12: what the applicant types on the details page (document number included) is kept only
until the booking is made or the hold expires. It lives with the hold, never in the session (a
session lives for days), and goes with it."""

import datetime
import json
import re

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from appointments.models import Appointment, Hold, Slot
from appointments.services.booking import purge_expired_holds
from tests.appointments.test_pages import book, booking_client, choose, details_data, live_office, url

__all__ = ["booking_client", "live_office"]  # fixtures

pytestmark = pytest.mark.django_db

TYPED = {
    "full_name": "Zoraida Quintero",
    "document_number": "ZQ-4455667",
    "phone": "300 765 4321",
    "email": "zoraida@example.org",
}
STORED = ["Zoraida", "ZQ4455667", "ZQ-4455667", "3007654321", "zoraida@example.org"]


@pytest.fixture(autouse=True)
def _own_hold_count(settings):
    settings.HOLD_RATE = "998/m"  # a count of holds per address of its own (see test_journey.py)


def stored_sessions(client) -> str:
    """Every session as stored: the database rows, and this browser's session as read (cache first)."""
    rows = [session.get_decoded() for session in Session.objects.all()]
    current = SessionStore(session_key=client.cookies["sessionid"].value).load()
    return json.dumps([rows, current], ensure_ascii=False)


def held() -> str:
    return json.dumps(list(Hold.objects.values_list("details", flat=True)), ensure_ascii=False)


def expire_holds() -> None:
    Hold.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))


def test_the_typed_details_are_kept_with_the_hold_and_never_in_the_session(booking_client, live_office):
    choose(booking_client, live_office)
    assert booking_client.post(url("details"), details_data(**TYPED))["Location"] == url("check")
    sessions = stored_sessions(booking_client)
    assert not [value for value in STORED if value in sessions]
    assert all(value in held() for value in ("Zoraida Quintero", "ZQ4455667", "+573007654321", "zoraida@example.org"))
    page = booking_client.get(url("check")).content.decode()
    assert "Zoraida Quintero" in page
    assert "ZQ4455667" in page


def test_the_details_go_when_the_booking_is_made(booking_client, live_office):
    book(booking_client, live_office, **TYPED)
    assert not Hold.objects.exists()
    sessions = stored_sessions(booking_client)
    assert not [value for value in STORED if value in sessions]


def test_the_details_go_when_the_hold_expires(booking_client, live_office):
    choose(booking_client, live_office)
    booking_client.post(url("details"), details_data(**TYPED))
    expire_holds()
    # Expired: no page shows them any more, even before the per-minute purge.
    response = booking_client.get(url("check", lang="en"), follow=True)
    assert response.redirect_chain[-1][0] == url("choose-day", live_office.slug, lang="en")
    page = response.content.decode()
    assert (
        "Your time was held for 10 minutes and that time is over: it is free for others again, and the "
        "details you typed were deleted. Please choose a time and enter your details again."
    ) in page
    assert "Zoraida" not in page
    purge_expired_holds()
    assert not Hold.objects.exists()
    sessions = stored_sessions(booking_client)
    assert not [value for value in STORED if value in sessions]
    # A new time: the form is empty.
    choose(booking_client, live_office)
    page = booking_client.get(url("details")).content.decode()
    assert "Zoraida" not in page
    assert "4455667" not in page


def test_details_sent_after_the_hold_ran_out_hold_the_same_time_again(booking_client, live_office):
    slot = choose(booking_client, live_office)
    expire_holds()
    assert booking_client.post(url("details"), details_data(**TYPED))["Location"] == url("check")
    (hold,) = Hold.objects.all()
    assert hold.slot_id == slot.pk
    assert hold.expires_at > timezone.now()
    assert hold.details["document_number"] == "ZQ4455667"
    key = re.search(r'name="key" value="([^"]+)"', booking_client.get(url("check")).content.decode()).group(1)
    assert booking_client.post(url("check"), {"key": key})["Location"] == url("appointment")
    assert Appointment.objects.get().document_number == "ZQ4455667"
    assert Slot.objects.get(pk=slot.pk).taken == 1


def test_details_sent_after_the_hold_ran_out_and_the_time_was_taken(booking_client, live_office):
    slot = choose(booking_client, live_office)
    expire_holds()
    purge_expired_holds()
    Slot.objects.filter(pk=slot.pk).update(capacity=1, taken=1)  # someone else took the last place
    response = booking_client.post(url("details", lang="en"), details_data(**TYPED), follow=True)
    assert response.redirect_chain[-1][0] == url("choose-day", live_office.slug, lang="en")
    assert "This time is now full. Please choose another one." in response.content.decode()
    assert not Hold.objects.exists()
    sessions = stored_sessions(booking_client)
    assert not [value for value in STORED if value in sessions]
