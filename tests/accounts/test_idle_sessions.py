"""Idle admin sessions end after STAFF_SESSION_IDLE_MINUTES (30): only staff sessions, and any
request before then keeps the session alive."""

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.middleware import LAST_SEEN
from core.services import ROLE_SUPERVISOR, ensure_roles
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_session():
    ensure_roles()
    user = get_user_model().objects.create_user(username="ana", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_SUPERVISOR))
    client = sign_in(Client(headers={"accept-language": "en"}), user)
    assert client.get("/admin/").status_code == 200
    return client


def last_seen_ago(client: Client, seconds: int) -> None:
    """Move the session's last request back in time, as a clock would."""
    session = client.session
    session[LAST_SEEN] = int(time.time()) - seconds
    session.save()


def test_thirty_minutes_without_a_request_end_an_admin_session(admin_session):
    assert settings.STAFF_SESSION_IDLE_MINUTES == 30
    key = admin_session.session.session_key
    last_seen_ago(admin_session, 30 * 60 + 1)
    response = admin_session.get("/admin/appointments/appointment/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=%2Fadmin%2Fappointments%2Fappointment%2F"
    page = admin_session.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity." in page
    assert "_auth_user_id" not in admin_session.session
    assert not Session.objects.filter(session_key=key).exists()
    assert admin_session.get("/admin/").status_code == 302


def test_a_request_within_thirty_minutes_keeps_it_open(admin_session):
    last_seen_ago(admin_session, 29 * 60)
    assert admin_session.get("/admin/").status_code == 200
    # That request counted: another 29 minutes later it is still open.
    assert int(time.time()) - admin_session.session[LAST_SEEN] < 5
    last_seen_ago(admin_session, 29 * 60)
    assert admin_session.get("/admin/report/").status_code == 200


def test_the_session_also_expires_on_the_server(admin_session):
    """The stored session's expiry follows the last request, so clear_expired_sessions removes an
    abandoned one even if nobody comes back with its cookie."""
    session = Session.objects.get(session_key=admin_session.session.session_key)
    remaining = (session.expire_date.timestamp() - time.time()) / 60
    assert 29 < remaining <= 30


def test_a_public_page_after_the_idle_time_signs_the_staff_member_out_too(admin_session):
    last_seen_ago(admin_session, 31 * 60)
    assert admin_session.get("/en/").status_code == 200
    assert "_auth_user_id" not in admin_session.session


def test_applicant_sessions_are_left_alone(client):
    """Only staff sessions: the public site's sessions have their own rules."""
    client.get("/en/questions/")
    assert LAST_SEEN not in client.session


def test_signing_in_again_after_the_idle_time_works_at_once(admin_session):
    user = get_user_model().objects.get(username="ana")
    last_seen_ago(admin_session, 31 * 60)
    response = admin_session.post("/admin/login/?next=/admin/", {"username": "ana", "password": "x" * 16})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert admin_session.session["_auth_user_id"] == str(user.pk)


def test_signing_in_starts_the_clock_so_the_next_request_writes_nothing(admin_session):
    """The sign-in writes the session anyway; the pages right after it do not write it again."""
    assert int(time.time()) - admin_session.session[LAST_SEEN] < 5
    fresh = Client(headers={"accept-language": "en"})
    fresh.force_login(get_user_model().objects.get(username="ana"))
    assert int(time.time()) - fresh.session[LAST_SEEN] < 5
