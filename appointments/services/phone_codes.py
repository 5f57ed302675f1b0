"""Codes sent by SMS to show that a phone number is the person's (issue 13).

Independent of the booking pages: a flow keeps a `PhoneCheck` (a booking's belongs to its hold,
`check_for_hold`; a lottery request's or waitlist entry's has none, `new_check`, and is purged when
over, `purge_unlinked_checks`), sends a code with `send_code` and checks what was typed with `check_code`.
Only an HMAC of the code is stored (keyed with SECRET_KEY, bound to the check and the number),
compared in constant time. A code lasts PHONE_CODE_MINUTES, allows PHONE_CODE_ATTEMPTS wrong
entries (then it is void), and PHONE_CODE_RESENDS new codes may follow the first, at least
PHONE_CODE_RESEND_SECONDS apart. The code is never logged: it is only in the SMS (the outbox
row's details, which retention erases)."""

import datetime
import hmac
import math
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from appointments.models import Hold, Office, PhoneCheck
from core.text import is_ascii_digits
from notifications.models import Notification
from notifications.services import CODES, notify_person, sms_quota_left, sms_quota_resets_at

CODE_LENGTH = 6


class CodeProblem(StrEnum):
    """Why a code was refused, or not sent; `status` is the HTTP status a page answers with."""

    INVALID = "invalid"  # not six digits 0-9
    WRONG = "wrong"  # a wrong code, tries left
    EXPIRED = "expired"  # ask for a new code
    NO_CODE = "no_code"  # none sent to this number (or used): ask for one
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # the code is void: ask for a new one (429)
    TOO_SOON = "too_soon"  # wait before the next code (429)
    NO_MORE_CODES = "no_more_codes"  # every resend used (429)
    SMS_QUOTA = "sms_quota"  # this number got as many SMS today as one number may (429)
    ADDRESS_RATE = "address_rate"  # this connection had as many codes sent as it may lately (429)
    GONE = "gone"  # the check went with its hold (booked meanwhile, or the hold ended)

    @property
    def status(self) -> int:
        limited = (
            CodeProblem.TOO_MANY_ATTEMPTS,
            CodeProblem.TOO_SOON,
            CodeProblem.NO_MORE_CODES,
            CodeProblem.SMS_QUOTA,
            CodeProblem.ADDRESS_RATE,
        )
        return 429 if self in limited else 400


class PhoneCodeError(Exception):
    """A code refused or not sent: a translated message safe to show, its `CodeProblem`, and when
    trying again can help (`retry_at`, for the 429s; None when only starting again can)."""

    def __init__(self, message: str, *, code: CodeProblem, retry_at: datetime.datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at


def clean_code(value: str) -> str:
    """What was typed as the six ASCII digits it must be. Spaces anywhere are dropped and
    compatibility forms folded (NFKC: full-width digits U+FF10-FF19 are 0-9, as a phone keyboard
    may type them); digits of other scripts (Arabic-Indic U+0660-0669) and anything else are
    refused, never dropped."""
    wrong_length = PhoneCodeError(
        _("The code has %(count)s numbers: check the SMS and type all of them.") % {"count": CODE_LENGTH},
        code=CodeProblem.INVALID,
    )
    if len(value or "") > 100:
        raise wrong_length  # before any work on what may be a page of text
    typed = "".join(unicodedata.normalize("NFKC", value or "").split())
    if not typed:
        raise PhoneCodeError(_("Enter the code from the SMS."), code=CodeProblem.INVALID)
    if not is_ascii_digits(typed):
        raise PhoneCodeError(
            _("Enter the code with the numbers 0 to 9 only, as it is written in the SMS."), code=CodeProblem.INVALID
        )
    if len(typed) != CODE_LENGTH:
        raise wrong_length
    return typed


def _digest(check: PhoneCheck, phone: str, code: str) -> str:
    # Bound to the check and the number: a code is good only for what it was sent for.
    return salted_hmac("appointments.phone_code", f"{check.pk}:{phone}:{code}", algorithm="sha256").hexdigest()


def check_for_hold(
    token: uuid.UUID | None, *, create: bool = True, now: datetime.datetime | None = None
) -> PhoneCheck | None:
    """The phone check of a live hold (made when first asked for, with `create`), or None when the
    hold is gone (or has none)."""
    hold = Hold.objects.filter(token=token, expires_at__gt=now or timezone.now()).first() if token else None
    if hold is None:
        return None
    if not create:
        return PhoneCheck.objects.filter(hold=hold).first()
    check, _created = PhoneCheck.objects.get_or_create(hold=hold)
    return check


def new_check() -> PhoneCheck:
    """A check of no hold, for a flow that links its own (allocation's pending requests). It is
    over, and the per-minute purge deletes it, PHONE_CODE_MINUTES after its last code expired."""
    return PhoneCheck.objects.create()


def unlinked_check_ends_at(check: PhoneCheck) -> datetime.datetime:
    """When a check of no hold is over: PHONE_CODE_MINUTES after its last code expired, or after
    it was made when no code went (time to ask for a new code after one expired)."""
    return (check.expires_at or check.created_at) + datetime.timedelta(minutes=settings.PHONE_CODE_MINUTES)


def purge_unlinked_checks(*, now: datetime.datetime | None = None) -> int:
    """Delete the checks of no hold that are over (and, by cascade, what a flow linked to them);
    returns how many. A booking's check goes with its hold instead."""
    cutoff = (now or timezone.now()) - datetime.timedelta(minutes=settings.PHONE_CODE_MINUTES)
    over = PhoneCheck.objects.filter(hold__isnull=True).filter(
        Q(expires_at__lt=cutoff) | Q(expires_at__isnull=True, created_at__lt=cutoff)
    )
    return over.delete()[1].get(PhoneCheck._meta.label, 0)  # noqa: SLF001


def is_verified(check: PhoneCheck | None, phone: str) -> bool:
    """The right code for this very number was entered."""
    return check is not None and check.verified_at is not None and check.phone == phone


def has_live_code(check: PhoneCheck | None, phone: str, *, now: datetime.datetime | None = None) -> bool:
    """A code sent to this number can still be entered (not expired, used or void)."""
    return (
        check is not None
        and bool(check.code_hmac)
        and check.phone == phone
        and check.expires_at is not None
        and check.expires_at > (now or timezone.now())
    )


def codes_left(check: PhoneCheck) -> int:
    return max(0, 1 + settings.PHONE_CODE_RESENDS - check.sends)


def send_code(
    *,
    check: PhoneCheck,
    phone: str,
    office: Office,
    language: str,
    now: datetime.datetime | None = None,
    limit: Callable[[], PhoneCodeError | None] | None = None,
) -> PhoneCheck:
    """Send a new code by SMS to `phone` (E.164) through the outbox, in `language`, for `office`;
    the code sent before stops working. Refused (PhoneCodeError, 429) when every resend is used,
    the last code went less than PHONE_CODE_RESEND_SECONDS ago, the number had its codes today, or
    by `limit` (the caller's count, such as codes per address): asked last, so that only a code
    about to be sent is counted, never one refused anyway."""
    now = now or timezone.now()
    minutes = settings.PHONE_CODE_MINUTES
    with transaction.atomic():
        check = _locked(check)
        if codes_left(check) <= 0:
            raise PhoneCodeError(
                _("We have sent as many codes as we can. Check that the number is right."),
                code=CodeProblem.NO_MORE_CODES,
            )
        gap = datetime.timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS)
        if check.sent_at is not None and now < check.sent_at + gap:
            wait = max(1, math.ceil((check.sent_at + gap - now).total_seconds()))
            raise PhoneCodeError(
                ngettext(
                    "A code was sent a moment ago. Please wait %(seconds)s second before asking for a new one.",
                    "A code was sent a moment ago. Please wait %(seconds)s seconds before asking for a new one.",
                    wait,
                )
                % {"seconds": wait},
                code=CodeProblem.TOO_SOON,
                retry_at=check.sent_at + gap,
            )
        # The codes-per-phone-per-day quota, before any code is made or counted (the outbox takes
        # the quota when it sends: a code it would drop is never promised). Codes have a budget
        # of their own, apart from the number's other SMS (notifications.services).
        if sms_quota_left(phone, now, budget=CODES) <= 0:
            raise PhoneCodeError(
                _(
                    "This phone number has had as many codes today as we send to one number. Please try "
                    "again tomorrow, or give another mobile number."
                ),
                code=CodeProblem.SMS_QUOTA,
                retry_at=sms_quota_resets_at(now),
            )
        if limit is not None and (refusal := limit()) is not None:
            raise refusal
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        check.phone = phone
        check.code_hmac = _digest(check, phone, code)
        check.sent_at = now
        check.expires_at = now + datetime.timedelta(minutes=minutes)
        check.sends += 1
        check.failures = 0
        check.verified_at = None
        check.save()
        notify_person(
            kind=Notification.Kind.PHONE_CODE,
            office=office,
            phone=phone,
            language=language,
            details={"code": code, "minutes": minutes, "expires_at": check.expires_at.isoformat()},
            now=now,
        )
    return check


def check_code(*, check: PhoneCheck, phone: str, code: str, now: datetime.datetime | None = None) -> PhoneCheck:
    """Accept the code typed for `phone` or raise PhoneCodeError. A wrong code counts against the
    code's PHONE_CODE_ATTEMPTS; the last one voids it. Entering the right code again (a second
    press) is accepted."""
    typed = clean_code(code)
    now = now or timezone.now()
    refusal = None
    with transaction.atomic():
        check = _locked(check)
        if is_verified(check, phone):
            return check
        if not check.code_hmac or check.phone != phone:
            refusal = _void_code_error(check, now) if check.failures >= settings.PHONE_CODE_ATTEMPTS else None
            raise refusal or PhoneCodeError(
                _("There is no code to enter for this number any more. Please ask for a new code."),
                code=CodeProblem.NO_CODE,
            )
        if check.expires_at is None or now >= check.expires_at:
            raise PhoneCodeError(
                ngettext(
                    "This code has expired: a code works for %(minutes)s minute. Please ask for a new code.",
                    "This code has expired: a code works for %(minutes)s minutes. Please ask for a new code.",
                    settings.PHONE_CODE_MINUTES,
                )
                % {"minutes": settings.PHONE_CODE_MINUTES},
                code=CodeProblem.EXPIRED,
            )
        if hmac.compare_digest(_digest(check, phone, typed), check.code_hmac):
            check.verified_at, check.code_hmac = now, ""
            check.save(update_fields=["verified_at", "code_hmac"])
            return check
        check.failures += 1
        left = settings.PHONE_CODE_ATTEMPTS - check.failures
        if left <= 0:
            check.code_hmac = ""
            refusal = _void_code_error(check, now)
        else:
            refusal = PhoneCodeError(
                ngettext(
                    "This code is not right. Check the SMS and try again: %(count)s try left.",
                    "This code is not right. Check the SMS and try again: %(count)s tries left.",
                    left,
                )
                % {"count": left},
                code=CodeProblem.WRONG,
            )
        check.save(update_fields=["failures", "code_hmac"])
    # Raised once the count is saved (inside the block it would be rolled back).
    raise refusal


def _locked(check: PhoneCheck) -> PhoneCheck:
    locked = PhoneCheck.objects.select_for_update().filter(pk=check.pk).first()
    if locked is None:
        raise PhoneCodeError(_("This step has ended. Please start it again."), code=CodeProblem.GONE)
    return locked


def _void_code_error(check: PhoneCheck, now: datetime.datetime) -> PhoneCodeError:
    gap = datetime.timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS)
    if codes_left(check) <= 0:
        return PhoneCodeError(
            _("The code was entered wrongly too many times and no longer works, and we cannot send more codes."),
            code=CodeProblem.TOO_MANY_ATTEMPTS,
        )
    return PhoneCodeError(
        _("The code was entered wrongly too many times and no longer works. Please ask for a new code."),
        code=CodeProblem.TOO_MANY_ATTEMPTS,
        retry_at=max(now, check.sent_at + gap) if check.sent_at else now,
    )
