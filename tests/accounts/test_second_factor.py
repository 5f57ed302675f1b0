"""The admin asks staff for a second factor after the password (django-otp): a code from an
authenticator app (TOTP) or a recovery code, each good once. Staff without an authenticator set
one up first. The requirement is on unless STAFF_OTP_REQUIRED says otherwise (DEBUG's default)."""

import re
from urllib.parse import unquote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpResponse
from django.test import Client, RequestFactory, override_settings
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.middleware import StaffSessionMiddleware
from accounts.models import recovery_code_digest
from core import views as core_views
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR, ensure_roles
from tests.conftest import authenticator_of, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password-2026"
SECOND_FACTOR = "/admin/account/two-factor/"


@pytest.fixture
def staff():
    ensure_roles()
    user = get_user_model().objects.create_user(username="ana", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_SUPERVISOR))
    return user


def with_password(user, next_page: str = "/admin/") -> Client:
    client = Client(headers={"accept-language": "en"})
    response = client.post(f"/admin/login/?next={next_page}", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == next_page
    return client


def give_code(client: Client, code: str, next_page: str = "/admin/"):
    return client.post(SECOND_FACTOR, {"code": code, "next": next_page})


def test_the_password_alone_reaches_no_admin_page(staff):
    authenticator_of(staff)
    client = with_password(staff)
    for page in ("/admin/", "/admin/appointments/appointment/", "/admin/report/", "/admin/auth/user/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert unquote(response["Location"]) == f"{SECOND_FACTOR}?next={page}"
    page = client.get(SECOND_FACTOR + "?next=/admin/report/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Second step of signing in" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'autocomplete="one-time-code"' in html
    assert page["Cache-Control"].startswith("max-age=0")


def test_the_password_alone_is_not_signed_in_on_the_public_pages(staff):
    """The booking pages book on a person's behalf when a member of staff is signed in: a session
    that gave only the password counts as nobody there."""
    client = with_password(staff)
    request = RequestFactory().get("/es/")
    request.session = client.session
    request.user = staff
    staff.is_verified = lambda: False
    # Before the view (process_view: the session is first read once the view is known).
    assert StaffSessionMiddleware(lambda r: HttpResponse()).process_view(request, core_views.privacy, (), {}) is None
    assert request.user.is_anonymous


def test_a_valid_code_from_the_authenticator_opens_the_admin(staff):
    device = authenticator_of(staff)
    client = with_password(staff, "/admin/report/")
    key_after_password = client.session.session_key
    response = give_code(client, totp_code(device), "/admin/report/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/report/"
    assert client.get("/admin/report/").status_code == 200
    index = client.get("/admin/")
    assert index.status_code == 200
    assert 'href="/admin/account/two-factor/recovery-codes/"' in index.content.decode()
    # The session that opens applicants' data has a new key.
    assert client.session.session_key != key_after_password


def test_a_wrong_code_is_refused(staff):
    device = authenticator_of(staff)
    client = with_password(staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for code in (wrong, "abc", ""):
        response = give_code(client, code)
        assert response.status_code == 200
        assert "There is a problem" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_in_a_row_pause_the_authenticator(staff):
    """django-otp waits 1, 2, 4, 8... seconds after each wrong code: guessing 6 digits is hopeless."""
    device = authenticator_of(staff)
    client = with_password(staff)
    give_code(client, f"{(int(totp_code(device)) + 1) % 1_000_000:06d}")
    response = give_code(client, totp_code(device))
    assert "Too many wrong codes in a row. Try again in 1 minute" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_code_from_the_app_works_once(staff):
    device = authenticator_of(staff)
    code = totp_code(device)
    assert give_code(with_password(staff), code).status_code == 302
    again = with_password(staff)
    response = give_code(again, code)
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()


def test_a_recovery_code_works_once(staff):
    authenticator_of(staff)
    codes = services.replace_recovery_codes(user=staff)
    assert len(codes) == 10
    client = with_password(staff)
    # Typed as people copy it: capitals, a space.
    typed = f"{codes[0][:4].upper()} {codes[0][4:].upper()}"
    response = give_code(client, typed)
    assert response.status_code == 302
    assert "You signed in with a recovery code, which now no longer works: 9 are left." in (
        client.get("/admin/").content.decode()
    )
    response = give_code(with_password(staff), codes[0])
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    # The next code after the second's pause that a wrong one brings: another recovery code works.
    StaticDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert give_code(with_password(staff), codes[1]).status_code == 302


def test_staff_without_an_authenticator_set_one_up_then_see_their_recovery_codes_once(staff):
    client = with_password(staff)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/admin/account/two-factor/set-up/?next=")
    html = response.content.decode()
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    # The key as text, the otpauth address and an inline SVG QR code (no image request).
    assert re.search(r"otpauth://totp/Movilidad(%3A|:)ana\?secret=", html.replace("&amp;", "&"))
    secret = re.search(r"secret=([A-Z2-7]+)", html).group(1)
    assert secret.replace(" ", "") in re.sub(r"\s", "", html)
    assert '<svg role="img" aria-label="QR code to scan with your authenticator app"' in html
    assert "<img" not in html
    # Reloading keeps the same key (the app has scanned it).
    client.get("/admin/account/two-factor/set-up/")
    assert TOTPDevice.objects.get(user=staff, confirmed=False).key == device.key

    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    response = client.post("/admin/account/two-factor/set-up/", {"code": wrong, "next": "/admin/"})
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    device.throttle_reset()

    response = client.post("/admin/account/two-factor/set-up/", {"code": totp_code(device), "next": "/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/account/two-factor/recovery-codes/?next=%2Fadmin%2F"
    page = client.get(response["Location"]).content.decode()
    shown = re.findall(r'<code class="account-code">([a-z2-7]{8})</code>', page)
    assert sorted(recovery_code_digest(user_id=staff.pk, code=code) for code in shown) == sorted(
        StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)
    )
    assert len(shown) == 10
    assert "This is the only time they are shown." in page
    again = client.get("/admin/account/two-factor/recovery-codes/").content.decode()
    assert not re.findall(r'<code class="account-code">', again)
    assert "You have 10 recovery codes left." in again
    assert client.get("/admin/").status_code == 200


def test_a_password_alone_cannot_add_an_authenticator_to_an_account_that_has_one(staff):
    device = authenticator_of(staff)
    client = with_password(staff)
    response = client.get("/admin/account/two-factor/set-up/")
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR)
    assert services.confirm_authenticator(user=staff, code=totp_code(device)) is None
    assert TOTPDevice.objects.filter(user=staff).count() == 1


def test_new_recovery_codes_replace_the_old_ones(staff):
    old = services.replace_recovery_codes(user=staff)
    device = authenticator_of(staff)
    client = with_password(staff)
    give_code(client, totp_code(device))
    response = client.post("/admin/account/two-factor/recovery-codes/", {"next": "/admin/"})
    new = re.findall(
        r'<code class="account-code">([a-z2-7]{8})</code>', client.get(response["Location"]).content.decode()
    )
    assert len(new) == 10
    assert not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)) == {
        recovery_code_digest(user_id=staff.pk, code=code) for code in new
    }


def test_the_recovery_codes_page_needs_the_second_factor(staff):
    authenticator_of(staff)
    client = with_password(staff)
    response = client.post("/admin/account/two-factor/recovery-codes/")
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR)
    assert not StaticToken.objects.exists()


def test_next_never_leaves_the_site(staff):
    device = authenticator_of(staff)
    client = with_password(staff)
    response = give_code(client, totp_code(device), "https://evil.example/")
    assert response["Location"] == "/admin/"


def test_the_second_factor_pages_need_a_signed_in_member_of_staff():
    client = Client(headers={"accept-language": "en"})
    for page in (SECOND_FACTOR, "/admin/account/two-factor/set-up/", "/admin/account/two-factor/recovery-codes/"):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    client.force_login(get_user_model().objects.get(username="nobody"))
    assert client.get("/admin/account/two-factor/set-up/").status_code == 302
    assert not TOTPDevice.objects.exists()


@override_settings(STAFF_OTP_REQUIRED=False)
def test_where_the_setting_turns_it_off_the_password_is_enough(staff):
    authenticator_of(staff)
    assert with_password(staff).get("/admin/").status_code == 200


def test_office_staff_need_it_too():
    ensure_roles()
    user = get_user_model().objects.create_user(username="mostrador", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
    response = with_password(user).get("/admin/desk/ticket/")
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR)
