"""Program administrators see who has an authenticator app and remove a lost one; nobody sees a
key or a recovery code in the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN, ensure_roles
from tests.conftest import authenticator_of, sign_in

pytestmark = pytest.mark.django_db

LIST = "/admin/accounts/authenticator/"


def member(role: str, name: str, **flags: bool):
    ensure_roles()
    user = get_user_model().objects.create_user(username=name, password="x" * 16, is_staff=True, **flags)
    user.groups.add(Group.objects.get(name=role))
    return user, sign_in(Client(headers={"accept-language": "en"}), user)


def test_a_program_administrator_removes_a_lost_authenticator(client):
    lost, lost_client = member(ROLE_OFFICE_STAFF, "perdido")
    codes = services.replace_recovery_codes(user=lost)
    _, administrator = member(ROLE_PROGRAM_ADMIN, "programa")
    listing = administrator.get(LIST)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "perdido" in html
    assert authenticator_of(lost).key not in html
    assert codes[0] not in html
    response = administrator.post(
        LIST, {"action": "remove", "_selected_action": [authenticator_of(lost).pk]}, follow=True
    )
    assert "1 authenticator removed, with its recovery codes." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=lost).exists()
    assert not StaticDevice.objects.filter(user=lost).exists()
    # Their signed-in session is no longer verified: they set up a new authenticator.
    response = lost_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/account/two-factor/")


def test_only_a_superuser_sees_or_removes_a_superusers_authenticator():
    root, _ = member(ROLE_PROGRAM_ADMIN, "raiz", is_superuser=True)
    device = authenticator_of(root)
    _, administrator = member(ROLE_PROGRAM_ADMIN, "programa")
    assert "raiz" not in administrator.get(LIST).content.decode()
    administrator.post(LIST, {"action": "remove", "_selected_action": [device.pk]})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_office_staff_cannot_open_the_list():
    _, desk = member(ROLE_OFFICE_STAFF, "mostrador")
    assert desk.get(LIST).status_code == 403


def test_django_otps_own_admin_pages_are_gone(admin_client):
    device = authenticator_of(get_user_model().objects.get(username="admin"))
    for page in (
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/config/",
        "/admin/otp_static/staticdevice/",
    ):
        assert admin_client.get(page).status_code == 404, page
    assert admin_client.get(LIST).status_code == 200
