"""Issue 12, sessions and links: an appointment opened in a browser gets a new session key, closes
after a short idle time or with the "close" button, a session opened by a link goes when the
appointment changes (as the link does), and the SMS's short link tells nothing before its MAC is
checked."""

import re

import pytest
from django.contrib.sessions.backends.cached_db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from appointments.links import manage_token
from appointments.models import Appointment, Slot
from appointments.services.changes import move_appointment
from tests.appointments.test_pages import book, booking_client, live_office, url

__all__ = ["booking_client", "live_office"]  # fixtures

pytestmark = pytest.mark.django_db

IDLE = (
    "For your safety, your appointment was closed on this device after 20 minutes without activity. Enter your "
    "reference and date of birth to see it again."
)
CLOSED = (
    "Your appointment is closed on this device. To see it again, use your reference and date of birth, or the "
    "link in your latest message."
)
LINK_VOID = (
    "This link is no longer valid: the appointment was changed or cancelled after it was sent. Use the link in "
    "your latest message, or your reference and date of birth."
)


@pytest.fixture(autouse=True)
def _own_counts(settings):
    settings.HOLD_RATE = "997/m"  # counts of their own (see test_journey.py)
    settings.MANAGE_LOOKUP_RATE = "997/m"


@pytest.fixture
def appointment(booking_client, live_office) -> Appointment:
    return book(booking_client, live_office)


def session_key(client: Client) -> str:
    return client.cookies["sessionid"].value


def browser_with_a_session() -> Client:
    """A browser that already has a session (the questions answered on it, say)."""
    client = Client()
    session = client.session
    session["screener"] = {}
    session.save()
    return client


def opened_by_link(appointment: Appointment) -> Client:
    client = Client()
    assert client.get(url("manage-link", manage_token(appointment)))["Location"] == url("appointment")
    return client


def opened_by_lookup(appointment: Appointment) -> Client:
    client = browser_with_a_session()
    born = appointment.date_of_birth
    data = {"reference": appointment.reference, "date_of_birth_0": born.day, "date_of_birth_1": born.month}
    response = client.post(url("manage"), {**data, "date_of_birth_2": born.year})
    assert response["Location"] == url("appointment")
    return client


def make_idle(client: Client, minutes: int) -> None:
    session = client.session
    session["manage"] = {**session["manage"], "seen": session["manage"]["seen"] - minutes * 60}
    session.save()


def messages_on(response) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>\s*(.*?)\s*</div>', response.content.decode(), re.S))


# ----------------------------------------------------------------------------------------------
# A new session key whenever an appointment is opened
# ----------------------------------------------------------------------------------------------
def test_booking_gives_the_session_a_new_key(booking_client, live_office):
    booking_client.get(url("choose-office"))
    before = session_key(booking_client)
    book(booking_client, live_office)
    assert session_key(booking_client) != before
    assert not SessionStore(session_key=before).exists(before)
    assert booking_client.get(url("appointment")).status_code == 200


@pytest.mark.parametrize("opened_by", ["lookup", "link"])
def test_a_lookup_or_a_link_gives_the_session_a_new_key(appointment, opened_by):
    client = browser_with_a_session()
    before = session_key(client)
    if opened_by == "lookup":
        born = appointment.date_of_birth
        client.post(
            url("manage"),
            {
                "reference": appointment.reference,
                "date_of_birth_0": born.day,
                "date_of_birth_1": born.month,
                "date_of_birth_2": born.year,
            },
        )
    else:
        client.get(url("manage-link", manage_token(appointment)))
    assert session_key(client) != before
    assert not SessionStore(session_key=before).exists(before)
    # Whoever kept the old key (a shared phone, a planted cookie) sees nothing.
    planted = Client()
    planted.cookies["sessionid"] = before
    assert planted.get(url("appointment"))["Location"] == url("manage")


# ----------------------------------------------------------------------------------------------
# A short idle time
# ----------------------------------------------------------------------------------------------
def test_an_opened_appointment_ends_with_the_session_after_the_idle_time(appointment, settings):
    client = Client()
    response = client.get(url("manage-link", manage_token(appointment)))
    assert response.cookies["sessionid"]["max-age"] == 20 * 60
    assert client.session.get_expiry_age() == 20 * 60
    settings.MANAGE_SESSION_IDLE_MINUTES = 5
    assert Client().get(url("manage-link", manage_token(appointment))).cookies["sessionid"]["max-age"] == 5 * 60


def test_each_manage_page_counts_as_activity(appointment):
    client = opened_by_link(appointment)
    make_idle(client, 19)
    response = client.get(url("appointment"))
    assert response.status_code == 200
    assert response.cookies["sessionid"]["max-age"] == 20 * 60  # the idle time starts again
    make_idle(client, 19)
    assert client.get(url("cancel")).status_code == 200


def test_after_the_idle_time_the_appointment_is_closed_with_a_message(appointment):
    client = opened_by_lookup(appointment)
    make_idle(client, 21)
    response = client.get(url("appointment", lang="en"), follow=True)
    assert response.redirect_chain == [(url("manage", lang="en"), 302)]
    assert IDLE in messages_on(response)
    assert appointment.display_reference not in response.content.decode()
    assert "manage" not in client.session
    assert client.post(url("cancel"), {"revision": appointment.revision})["Location"] == url("manage")
    assert Appointment.objects.get(pk=appointment.pk).status == "booked"


# ----------------------------------------------------------------------------------------------
# The close button
# ----------------------------------------------------------------------------------------------
def test_the_appointment_page_has_a_close_button(appointment):
    client = opened_by_link(appointment)
    page = client.get(url("appointment", lang="en")).content.decode()
    form = re.search(r'<form method="post" action="/en/manage/close/"[^>]*>(.*?)</form>', page, re.S)
    assert form, "a POST form to close the appointment"
    assert 'name="csrfmiddlewaretoken"' in form[1]
    assert "Close this appointment on this device</button>" in form[1]
    assert "It also closes by itself after 20 minutes without activity." in form[1]


def test_closing_forgets_the_appointment_in_this_browser(appointment):
    client = opened_by_link(appointment)
    before = session_key(client)
    response = client.post(url("close", lang="en"), follow=True)
    assert response.redirect_chain == [(url("manage", lang="en"), 302)]
    assert CLOSED in messages_on(response)
    assert not SessionStore(session_key=before).exists(before)
    assert "manage" not in client.session
    assert client.get(url("appointment"))["Location"] == url("manage")


def test_closing_needs_a_post_with_the_csrf_token(appointment):
    client = Client(enforce_csrf_checks=True)
    client.get(url("manage-link", manage_token(appointment)))
    assert client.get(url("close")).status_code == 405
    assert client.post(url("close")).status_code == 403
    assert client.get(url("appointment")).status_code == 200
    page = client.get(url("appointment")).content.decode()
    token = re.search(r'action="/es/manage/close/".*?name="csrfmiddlewaretoken" value="([^"]+)"', page, re.S)[1]
    assert client.post(url("close"), {"csrfmiddlewaretoken": token})["Location"] == url("manage")
    assert client.get(url("appointment"))["Location"] == url("manage")


# ----------------------------------------------------------------------------------------------
# A session opened by a link goes when the appointment changes, as the link does
# ----------------------------------------------------------------------------------------------
def test_a_change_made_elsewhere_revokes_a_session_opened_by_a_link(appointment, live_office):
    by_link, by_lookup = opened_by_link(appointment), opened_by_lookup(appointment)
    later = Slot.objects.filter(office=live_office).order_by("-starts_at").first()
    move_appointment(appointment_id=appointment.pk, slot_id=later.pk)  # staff, or another browser
    response = by_link.get(url("appointment", lang="en"), follow=True)
    assert response.redirect_chain == [(url("manage", lang="en"), 302)]
    assert LINK_VOID in messages_on(response)
    assert by_link.get(url("move-day"))["Location"] == url("manage")
    # Who opened it with the reference and date of birth still knows them.
    assert by_lookup.get(url("appointment")).status_code == 200


def test_a_change_made_in_the_same_session_keeps_it_open(appointment):
    client = opened_by_link(appointment)
    assert client.post(url("cancel"), {"revision": appointment.revision})["Location"] == url("appointment")
    page = client.get(url("appointment")).content.decode()
    assert appointment.display_reference in page
    assert Appointment.objects.get(pk=appointment.pk).status == "cancelled"


# ----------------------------------------------------------------------------------------------
# The short link tells nothing before its MAC is checked
# ----------------------------------------------------------------------------------------------
def test_the_short_link_gives_the_same_answer_for_any_wrong_mac(appointment):
    assert appointment.language == "en"
    token = manage_token(appointment)
    forged = f"{appointment.pk}-{appointment.revision}-{'a' * 16}"
    missing = f"{appointment.pk + 1000}-0-{'a' * 16}"
    answers = []
    for bad in (forged, missing):
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(f"/m/{bad}/")
        assert len(queries) == 0, "nothing is looked up before the MAC is checked"
        answers.append((response.status_code, response["Location"].replace(bad, "<token>")))
    # The same answer, in the service's default language rather than the applicant's.
    assert answers == [(302, "/es/manage/link/<token>/")] * 2
    # With its MAC right, the link continues in the applicant's language.
    assert Client().get(f"/m/{token}/")["Location"] == f"/en/manage/link/{token}/"


def test_the_old_short_link_of_a_moved_appointment_still_says_only_that_it_is_void(appointment, live_office):
    old = manage_token(appointment)
    later = Slot.objects.filter(office=live_office).order_by("-starts_at").first()
    move_appointment(appointment_id=appointment.pk, slot_id=later.pk)
    response = Client().get(f"/m/{old}/", follow=True)
    assert response.status_code == 400
    assert "Use the link in your latest message" in response.content.decode()
