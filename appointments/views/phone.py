"""What every page that asks for a code sent by SMS shares (appointments.services.phone_codes):
the booking's code page (appointments/views/confirm.py) and the lottery's and the waitlist's
(allocation/views/phone.py). The number as the page shows it, and a refusal as a response."""

import datetime
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

from appointments.services import phone_codes
from appointments.views.common import busy, problem
from core.limits import over_limit


def e164(values: dict[str, Any]) -> str:
    """The phone number of typed details (DetailsForm.as_typed), as codes are sent to it."""
    return PhoneNumber.from_string(values["phone"]).as_e164


def masked_phone(phone: str) -> str:
    """The number as the code page shows it: "+57 300 *** **67" (the country code, the first three
    and the last two digits)."""
    number = PhoneNumber.from_string(phone)
    national = str(number.national_number)
    hidden = "*" * max(0, len(national) - 5) + national[-2:]
    return f"+{number.country_code} {national[:3]} {hidden[:3]} {hidden[3:]}".rstrip()


def phone_html(phone: str) -> SafeString:
    """The masked number, kept on one line, as it is read."""
    return format_html('<span class="text-nowrap">{}</span>', masked_phone(phone))


def code_refused(
    request: HttpRequest,
    error: phone_codes.PhoneCodeError,
    *,
    template: str,
    context: dict[str, Any] | None,
    retry_at: datetime.datetime | None = None,
) -> HttpResponse:
    """The code page (`template` with `context`) with the refusal, or, when there is no code page to
    show (no code went to this number yet), the busy or problem page. A 429 says when trying again
    can help: the error's own time, else `retry_at` (when the flow's step ends), else now."""
    status = error.code.status
    if context is None and error.code == phone_codes.CodeProblem.TOO_SOON:
        response = busy(request, error)  # "press the button again in a few seconds", with a link back
    elif context is None:
        response = problem(request, error.message, status=status)
    else:
        response = render(request, template, {**context, "refusal": error}, status=status)
    if status == 429:
        until = error.retry_at or retry_at or timezone.now()
        response["Retry-After"] = str(max(1, math.ceil((until - timezone.now()).total_seconds())))
    return response


def too_many_codes(request: HttpRequest) -> phone_codes.PhoneCodeError | None:
    """PHONE_CODE_RATE: codes sent by SMS from this address, counted before each is sent at
    Confirm or by "send a new code". Each time held is a new check with its own few codes, so
    without it a bot choosing time after time could text any number, thirty times a minute. Fails
    closed (SMS cost money and reach people). None when this one may be sent."""
    wait = over_limit(request, group="appointments.phone_code", rate=settings.PHONE_CODE_RATE, fail_closed=True)
    if wait is None:
        return None
    return phone_codes.PhoneCodeError(
        _("Too many codes were sent by SMS from this connection. What you typed is kept."),
        code=phone_codes.CodeProblem.ADDRESS_RATE,
        retry_at=timezone.now() + datetime.timedelta(seconds=wait),
    )
