"""Writes for staff accounts: the second factor (an authenticator app, TOTP) and its recovery codes
(django-otp's static tokens, each good once, stored only as keyed hashes: accounts.models)."""

import datetime
import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCodes, recovery_code_digest

RECOVERY_CODES = 10
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"
TOTP_CODE = re.compile(r"\d{6}")


def normalise_code(code: str) -> str:
    """A code as typed (spaces, dashes, capitals) in the one spelling it is stored in."""
    return re.sub(r"[\s-]", "", code).lower()


def start_authenticator(*, user: AbstractBaseUser) -> TOTPDevice:
    """The authenticator this user is setting up: the one not yet confirmed, kept from one page
    load to the next so the key the app scanned stays the key checked, or a new random one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
        device.full_clean()
        device.save()
    return device


@transaction.atomic(durable=True)
def confirm_authenticator(*, user: AbstractBaseUser, code: str) -> TOTPDevice | None:
    """Confirm the authenticator being set up when `code` is one it shows now; None otherwise.
    Only a user with no confirmed authenticator may confirm one: a password alone never adds a
    second authenticator to an account that has one."""
    if TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).exists():
        return None
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    if device is None or not device.verify_token(normalise_code(code)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


@transaction.atomic(durable=True)
def replace_recovery_codes(*, user: AbstractBaseUser) -> list[str]:
    """Give the user RECOVERY_CODES new recovery codes, the old ones no longer working; the codes
    are returned to be shown once, and only their keyed hashes are stored."""
    device = StaticDevice.objects.select_for_update().filter(user=user).order_by("pk").first()
    if device is None:
        device = StaticDevice(user=user, name=RECOVERY_NAME, confirmed=True)
        device.full_clean()
        device.save()
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=recovery_code_digest(user_id=device.user_id, code=code)) for code in codes
    )
    return codes


@dataclass(frozen=True)
class Verification:
    device: Device | None
    # When every device that could take the code pauses after wrong codes: until when.
    paused_until: datetime.datetime | None = None
    recovery_codes_left: int | None = None


@transaction.atomic(durable=True)
def verify_second_factor(*, user: AbstractBaseUser, code: str) -> Verification:
    """Check a code typed at sign-in: six digits against the user's authenticator, anything else
    against their recovery codes (a recovery code that matches is used up). Every wrong code
    lengthens the device's pause (django-otp: 1, 2, 4, 8... seconds)."""
    code = normalise_code(code)
    model = TOTPDevice if TOTP_CODE.fullmatch(code) else RecoveryCodes
    devices = list(model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"))
    paused = []
    for device in devices:
        allowed, details = device.verify_is_allowed()
        if not allowed:
            paused.append((details or {}).get("locked_until"))
            continue
        if device.verify_token(code):
            left = device.token_set.count() if isinstance(device, RecoveryCodes) else None
            return Verification(device=device, recovery_codes_left=left)
    if devices and len(paused) == len(devices) and all(paused):
        return Verification(device=None, paused_until=max(paused))
    return Verification(device=None)


def has_authenticator(user: AbstractBaseUser) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic(durable=True)
def remove_second_factor(*, user_ids: list[int]) -> int:
    """Remove these users' authenticators and recovery codes (a lost phone); return how many
    authenticators. A session verified by a removed device is no longer verified (django-otp's
    middleware finds no device), so they give their password and set up a new one."""
    StaticDevice.objects.filter(user__in=user_ids).delete()
    count, _ = TOTPDevice.objects.filter(user__in=user_ids).delete()
    return count
