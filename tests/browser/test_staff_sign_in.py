"""Signing in to the admin on a 360-pixel phone, axe-core on every page: the password, setting up
an authenticator app (QR code and key), a wrong code, the first code, the recovery codes; signing
in again with the app's code; the page after too many wrong passwords; and a program
administrator unlocking a username and removing a lost authenticator."""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, expect

from core.services import ROLE_PROGRAM_ADMIN, ROLE_SUPERVISOR, ensure_roles
from tests.browser.conftest import CheckedPage, give_second_factor
from tests.conftest import authenticator_of, totp_code

PASSWORD = "phone-sign-in-2026"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def supervisor(transactional_db):
    ensure_roles()
    user = get_user_model().objects.create_user(username="telefono", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_SUPERVISOR))
    return user


def lock_out(username: str) -> None:
    """As if someone had just tried as many wrong passwords for `username` as the limit allows."""
    AccessAttempt.objects.create(
        username=username,
        ip_address="198.51.100.7",
        user_agent="elsewhere",
        http_accept="*/*",
        path_info="/admin/login/",
        get_data="",
        post_data="",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=timezone.now(),
    )


def with_password(browser: Browser, live_server) -> CheckedPage:
    context = browser.new_context(locale="en-US", viewport=PHONE)
    checked = CheckedPage(context.new_page(), live_server.url)
    checked.goto("/admin/login/?next=/admin/")
    checked.page.get_by_label("Username").fill("telefono")
    checked.page.get_by_label("Password").fill(PASSWORD)
    checked.page.get_by_role("button", name="Log in").click()
    checked.check_accessibility()
    return checked


def test_setting_up_and_signing_in_with_a_second_factor(browser: Browser, live_server, supervisor):
    setup = with_password(browser, live_server)
    expect(setup.page.get_by_role("heading", level=1)).to_have_text("Set up the second step of signing in")
    expect(setup.page.get_by_role("img", name="QR code to scan with your authenticator app")).to_be_visible()
    device = TOTPDevice.objects.get(user=supervisor, confirmed=False)
    key = setup.page.locator("code.account-code").first.inner_text().replace(" ", "")
    assert f"secret={key}" in TOTPDevice.objects.get(pk=device.pk).config_url
    setup.screenshot("staff-set-up-360")

    setup.page.get_by_label("Code from the app").fill("12 34")
    setup.page.get_by_role("button", name="Turn on the second step").click()
    setup.check_accessibility()
    expect(setup.page.get_by_role("alert")).to_contain_text("Enter the 6 digits the app shows, without letters")
    setup.screenshot("staff-set-up-error-360")

    setup.page.get_by_label("Code from the app").fill(totp_code(device))
    setup.page.get_by_role("button", name="Turn on the second step").click()
    setup.check_accessibility()
    expect(setup.page.get_by_role("heading", level=1)).to_have_text("Recovery codes")
    codes = setup.page.locator(".account-recovery-codes code")
    expect(codes).to_have_count(10)
    assert all(re.fullmatch(r"[a-z2-7]{8}", code) for code in codes.all_inner_texts())
    setup.screenshot("staff-recovery-codes-360")
    setup.page.get_by_role("link", name="Continue to the administration").click()
    setup.check_accessibility()
    expect(setup.page.get_by_role("link", name="Recovery codes")).to_be_visible()

    # Another day, another browser: the password, then the code the app shows (the next one: a
    # code is good once).
    again = with_password(browser, live_server)
    expect(again.page.get_by_role("heading", level=1)).to_have_text("Second step of signing in")
    again.page.get_by_label("Code").fill("000000" if totp_code(device, 1) != "000000" else "111111")
    again.page.get_by_role("button", name="Continue").click()
    again.check_accessibility()
    expect(again.page.get_by_role("alert")).to_contain_text("That code is not right")
    again.screenshot("staff-second-factor-error-360")
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    again.page.get_by_label("Code").fill(totp_code(device, 1))
    again.page.get_by_role("button", name="Continue").click()
    again.check_accessibility()
    expect(again.page.get_by_role("heading", level=1)).to_have_text("Administration")
    assert again.page.url.endswith("/admin/")
    setup.verify()
    again.verify()


def test_the_lockout_page_says_when_to_try_again(browser: Browser, live_server, supervisor):
    lock_out("telefono")
    locked = with_password(browser, live_server)
    expect(locked.page.get_by_role("heading", level=1)).to_have_text("Signing in is paused")
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    expect(locked.page.get_by_role("alert")).to_have_text(f"Too many failed sign-ins. Try again in {minutes} minutes.")
    locked.screenshot("staff-locked-out-360")
    locked.page.get_by_role("link", name="Back to the sign-in page").click()
    locked.check_accessibility()
    locked.verify()


def test_a_program_administrator_unlocks_and_removes_an_authenticator(browser: Browser, live_server, supervisor):
    """The two lists of Staff accounts, at 1280 px, axe-clean: unlock a username, remove a lost
    authenticator."""
    ensure_roles()
    administrator = get_user_model().objects.create_user(username="programa", password=PASSWORD, is_staff=True)
    administrator.groups.add(Group.objects.get(name=ROLE_PROGRAM_ADMIN))
    authenticator_of(administrator)
    authenticator_of(supervisor)
    lock_out("telefono")
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    admin = CheckedPage(context.new_page(), live_server.url)
    admin.goto("/admin/login/?next=/admin/")
    admin.page.get_by_label("Username").fill("programa")
    admin.page.get_by_label("Password").fill(PASSWORD)
    admin.page.get_by_role("button", name="Log in").click()
    give_second_factor(admin, "programa")
    admin.check_accessibility()

    admin.page.get_by_role("link", name="Failed sign-ins").first.click()
    admin.check_accessibility()
    admin.page.get_by_role("row", name=re.compile("telefono")).get_by_role("checkbox").check()
    admin.page.get_by_label("Action:").select_option(label="Unlock: forget the selected failed sign-ins")
    admin.page.get_by_role("button", name="Go").click()
    admin.check_accessibility()
    expect(admin.page.get_by_text("1 record of failed sign-ins forgotten")).to_be_visible()
    assert not AccessAttempt.objects.exists()
    admin.screenshot("staff-unlocked-1280")

    admin.goto("/admin/accounts/authenticator/")
    admin.page.get_by_role("row", name=re.compile("telefono")).get_by_role("checkbox").check()
    admin.page.get_by_label("Action:").select_option(index=1)
    admin.page.get_by_role("button", name="Go").click()
    admin.check_accessibility()
    expect(admin.page.get_by_text("1 authenticator removed, with its recovery codes.")).to_be_visible()
    assert not TOTPDevice.objects.filter(user=supervisor).exists()
    admin.verify()
