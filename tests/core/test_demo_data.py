"""`load_demo_data` is idempotent and refuses to run outside local development."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from core.services import DEMO_ACCOUNTS, ROLES

pytestmark = pytest.mark.django_db


def test_loading_twice_creates_each_account_and_role_once(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo_data")
    call_command("load_demo_data")
    user_model = get_user_model()
    assert user_model.objects.count() == len(DEMO_ACCOUNTS)
    assert Group.objects.count() == len(ROLES)
    for account in DEMO_ACCOUNTS:
        user = authenticate(username=account.username, password=account.password)
        assert user is not None, account.username
        assert user.is_staff
        assert list(user.groups.values_list("name", flat=True)) == [account.role]


def test_refuses_without_debug(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only for local development"):
        call_command("load_demo_data")
    assert get_user_model().objects.count() == 0
