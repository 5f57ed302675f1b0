"""Recovery codes are kept only as a keyed hash (HMAC of the code with SECRET_KEY, bound to the
user): a copy of the database does not give anyone a way in. The codes themselves are shown once,
when made; codes stored in plain text before are hashed by a migration and keep working."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts import services
from accounts.models import recovery_code_digest
from tests.conftest import authenticator_of

PASSWORD = "a-long-staff-password-2026"
SECOND_FACTOR = "/admin/account/two-factor/"


def staff_member(username: str = "ana"):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, is_staff=True)


def signs_in_with(user, code: str) -> bool:
    client = Client(headers={"accept-language": "en"})
    client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD})
    response = client.post(SECOND_FACTOR, {"code": code, "next": "/admin/"})
    # A wrong code pauses the device for a second: the next attempt in a test is not paused.
    StaticDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    return response.status_code == 302


@pytest.mark.django_db
def test_the_database_holds_no_recovery_code_only_its_keyed_hash():
    user = staff_member()
    codes = services.replace_recovery_codes(user=user)
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & set(codes)
    assert stored == {recovery_code_digest(user_id=user.pk, code=code) for code in codes}


@pytest.mark.django_db
def test_the_stored_hash_is_not_a_code_and_a_code_of_one_user_is_not_another_users():
    ana, ben = staff_member("ana"), staff_member("ben")
    authenticator_of(ana)
    authenticator_of(ben)
    codes = services.replace_recovery_codes(user=ana)
    services.replace_recovery_codes(user=ben)
    stored = StaticToken.objects.filter(device__user=ana).values_list("token", flat=True).first()
    assert not signs_in_with(ana, stored)
    assert not signs_in_with(ben, codes[0])
    assert signs_in_with(ana, codes[0])
    assert not signs_in_with(ana, codes[0])
    assert services.recovery_codes_left(ana) == 9


@pytest.mark.django_db
def test_codes_keep_working_when_the_secret_key_is_rotated_with_the_old_one_as_a_fallback(settings):
    user = staff_member()
    authenticator_of(user)
    codes = services.replace_recovery_codes(user=user)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-after-a-rotation-0123456789-abcdefghijklmnop"
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert signs_in_with(user, codes[0])
    settings.SECRET_KEY_FALLBACKS = []
    assert not signs_in_with(user, codes[1])


BEFORE = [("accounts", "0002_authenticator"), ("otp_static", "0003_add_timestamps")]
AFTER = [("accounts", "0003_recovery_codes_hashed")]


@pytest.fixture
def back_to_latest():
    """However the test ends, the database goes back to the latest migrations for the next test."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_plain_codes_and_nobody_is_locked_out(back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("auth", "User")
    user = User.objects.create(username="ana", is_staff=True)
    device = old.get_model("otp_static", "StaticDevice").objects.create(
        user_id=user.pk, name="recovery codes", confirmed=True
    )
    plain = ["abcdefgh", "ijklmnop"]
    for code in plain:
        old.get_model("otp_static", "StaticToken").objects.create(device_id=device.pk, token=code)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    stored = set(StaticToken.objects.filter(device_id=device.pk).values_list("token", flat=True))
    assert stored == {recovery_code_digest(user_id=user.pk, code=code) for code in plain}
    ana = get_user_model().objects.get(pk=user.pk)
    ana.set_password(PASSWORD)
    ana.save()
    authenticator_of(ana)
    assert signs_in_with(ana, "ABCD EFGH")
    assert services.recovery_codes_left(ana) == 1
