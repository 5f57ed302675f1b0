"""The admin sign-in is locked per username and per client address after AXES_FAILURE_LIMIT
failures (django-axes, counted in PostgreSQL), says when to try again, and a program
administrator can unlock it."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN, ensure_roles
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password-2026"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def staff():
    ensure_roles()
    users = {}
    for name in ("ana", "beto"):
        user = get_user_model().objects.create_user(username=name, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
        users[name] = user
    return users


def attempt(username: str, password: str, address: str = "198.51.100.7", **headers: str):
    """One sign-in on the admin's page from a fresh browser; the response and its client."""
    client = Client(headers={"accept-language": "en", **headers}, REMOTE_ADDR=address)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return response, client


def signed_in(response, client) -> bool:
    return response.status_code == 302 and "_auth_user_id" in client.session


def refused_by_the_lock(response) -> bool:
    return response.status_code == 429 and "Too many failed sign-ins" in response.content.decode()


def test_one_failure_short_of_the_limit_then_the_right_password_signs_in(staff):
    assert LIMIT >= 5
    for _ in range(LIMIT - 1):
        response, _client = attempt("ana", "wrong-password")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    assert signed_in(*attempt("ana", PASSWORD))
    # Her own failures are forgotten once she is in: the same again works again.
    for _ in range(LIMIT - 1):
        attempt("ana", "wrong-password")
    assert signed_in(*attempt("ana", PASSWORD))


def test_at_the_limit_the_right_password_is_refused_with_when_to_try_again(staff):
    for _ in range(LIMIT - 1):
        attempt("ana", "wrong-password")
    # The failure that reaches the limit already answers with the lockout page.
    assert refused_by_the_lock(attempt("ana", "wrong-password")[0])
    response, client = attempt("ana", PASSWORD)
    assert refused_by_the_lock(response)
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert f"Try again in {minutes} minutes." in html
    assert "ask a program administrator to unlock your username" in html
    assert 0 < int(response["Retry-After"]) <= minutes * 60
    # Trying during the pause does not lengthen it.
    last = AccessAttempt.objects.get(username="ana").attempt_time
    attempt("ana", "wrong-password")
    assert AccessAttempt.objects.get(username="ana").attempt_time == last


def test_the_pause_ends_after_the_cool_off_time(staff):
    for _ in range(LIMIT):
        attempt("ana", "wrong-password")
    assert refused_by_the_lock(attempt("ana", PASSWORD)[0])
    AccessAttempt.objects.update(
        attempt_time=datetime.datetime.now(datetime.UTC) - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1)
    )
    assert signed_in(*attempt("ana", PASSWORD))


def test_the_minutes_left_are_counted_from_the_last_failure(staff):
    for _ in range(LIMIT):
        attempt("ana", "wrong-password")
    AccessAttempt.objects.update(attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=20))
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60) - 20
    assert f"Try again in {minutes} minutes." in attempt("ana", PASSWORD)[0].content.decode()


def test_a_locked_username_is_locked_from_every_address_and_others_are_not(staff):
    # One wrong password for ana from each of LIMIT addresses: her username is locked...
    for n in range(LIMIT):
        attempt("ana", "wrong-password", address=f"198.51.100.{n + 10}")
    assert refused_by_the_lock(attempt("ana", PASSWORD, address="203.0.113.99")[0])
    # ...but no single address is: a colleague signs in from any of them.
    assert signed_in(*attempt("beto", PASSWORD, address="198.51.100.10"))


def test_a_locked_address_is_locked_for_every_username_and_others_are_not(staff):
    # Guessing one password on many usernames from one address locks the address...
    for n in range(LIMIT):
        attempt(f"guess{n}", "Password123", address="198.51.100.66")
    assert refused_by_the_lock(attempt("beto", PASSWORD, address="198.51.100.66")[0])
    # ...and nobody else: the same people sign in from anywhere else.
    assert signed_in(*attempt("beto", PASSWORD, address="198.51.100.67"))
    assert signed_in(*attempt("ana", PASSWORD, address="198.51.100.67"))


def test_signing_in_as_oneself_does_not_wipe_the_failures_on_a_colleague(staff):
    for _ in range(LIMIT - 1):
        attempt("ana", "wrong-password", address="198.51.100.5")
    assert signed_in(*attempt("beto", PASSWORD, address="198.51.100.5"))
    assert refused_by_the_lock(attempt("ana", "one-more-guess", address="198.51.100.5")[0])
    assert refused_by_the_lock(attempt("ana", PASSWORD, address="203.0.113.1")[0])


@override_settings(RATELIMIT_IP_META_KEY="HTTP_X_REAL_IP")
def test_behind_a_load_balancer_each_client_address_counts_for_itself(staff):
    """Every request comes from the load balancer (REMOTE_ADDR); the client's address is the
    header it sets, as for the rate limits."""
    balancer = "10.0.0.2"
    for n in range(LIMIT):
        attempt(f"guess{n}", "Password123", address=balancer, x_real_ip="203.0.113.5")
    assert refused_by_the_lock(attempt("ana", PASSWORD, address=balancer, x_real_ip="203.0.113.5")[0])
    assert signed_in(*attempt("ana", PASSWORD, address=balancer, x_real_ip="203.0.113.6"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_an_ipv6_client_counts_as_its_whole_64_network(staff):
    for n in range(LIMIT):
        attempt(f"guess{n}", "Password123", address=f"2001:db8:1:2::{n + 1:x}")
    assert refused_by_the_lock(attempt("ana", PASSWORD, address="2001:db8:1:2:ffff::1")[0])
    assert signed_in(*attempt("ana", PASSWORD, address="2001:db8:1:3::1"))


def admin_user(role: str, name: str):
    ensure_roles()
    user = get_user_model().objects.create_user(username=name, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return sign_in(Client(headers={"accept-language": "en"}), user)


def test_a_program_administrator_unlocks_a_username(staff):
    for _ in range(LIMIT):
        attempt("ana", "wrong-password")
    administrator = admin_user(ROLE_PROGRAM_ADMIN, "programa")
    listing = administrator.get("/admin/accounts/signinfailures/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "ana" in html
    assert "Unlock: forget the selected failed sign-ins" in html
    rows = list(AccessAttempt.objects.filter(username="ana").values_list("pk", flat=True))
    response = administrator.post(
        "/admin/accounts/signinfailures/", {"action": "unlock", "_selected_action": rows}, follow=True
    )
    assert "1 record of failed sign-ins forgotten" in response.content.decode()
    assert signed_in(*attempt("ana", PASSWORD))


def test_office_staff_cannot_see_or_unlock(staff):
    for _ in range(LIMIT):
        attempt("ana", "wrong-password")
    desk = admin_user(ROLE_OFFICE_STAFF, "mostrador")
    assert desk.get("/admin/accounts/signinfailures/").status_code == 403
    rows = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = desk.post("/admin/accounts/signinfailures/", {"action": "unlock", "_selected_action": rows})
    assert response.status_code == 403
    assert refused_by_the_lock(attempt("ana", PASSWORD)[0])
