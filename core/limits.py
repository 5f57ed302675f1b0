"""Limits per client address and per phone number, and what each does when it cannot count: a
limit that protects something scarce or secret fails closed (the request is refused with "try
again later"), one that only slows people down fails open (the request goes through).

Counted in the cache (Redis), per address (django-ratelimit's "ip" key: RATELIMIT_IP_META_KEY
behind a load balancer, IPv6 reduced to its /64):
- holds chosen per address, HOLD_RATE (`appointments.hold`): closed, places are scarce; without
  a count one address could take them all;
- lookups by reference and date of birth per address, MANAGE_LOOKUP_RATE (`appointments.manage`):
  closed, without a count dates of birth could be tried at will;
- finished screenings per address, SCREENING_FINISH_RATE (`eligibility.finish`, counted where the
  last answer is posted): open, a screening is anonymous and takes nothing scarce; a booking
  still needs a hold, whose limits fail closed;
- requests for scarce places (lottery requests, waitlist entries) per address, FAIR_REQUEST_RATE
  (`allocation.request`, allocation/limits.py): closed, made-up requests could flood a draw or a
  list;
- phone codes sent by SMS per address, PHONE_CODE_RATE (`appointments.phone_code`,
  appointments/views/phone.py): closed, SMS cost money and reach people;
- a phone code is sent only while its number has codes left today (below).

Counted in Redis per phone number (a keyed hash of it, never the number):
- SMS per phone number per UTC day, SMS_PER_PHONE_PER_DAY, and phone codes apart from them,
  PHONE_CODES_PER_PHONE_PER_DAY (`notifications.services.take_sms_quota`, taken when an SMS is
  sent): open, a message about an appointment must go when Redis is down; a caller sending on
  request (a phone code) may ask for it closed.

Counted in PostgreSQL, under a transaction-level advisory lock so two requests at once cannot
both pass, and so never "down" apart from the database itself:
- live holds per address, HOLD_LIVE_PER_ADDRESS (`appointments.services.booking.hold_slot`);
- active appointments per phone number, ACTIVE_APPOINTMENTS_PER_PHONE
  (`appointments.services.booking.book_appointment`).

Addresses and phone numbers are stored and used as keys only as `keyed_hash` values (an HMAC with
SECRET_KEY): a leaked key list or lock id names nobody.
"""

import datetime
import logging
import math
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.formats import time_format
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage

from core.addresses import client_ip

logger = logging.getLogger(__name__)

# What a refusal says when the cache could not count: try again in a minute.
UNCOUNTED_RETRY_SECONDS = 60


def over_limit(request: HttpRequest, *, group: str, rate: str, fail_closed: bool, method: str = "POST") -> int | None:
    """Count this request against the address's limit. None when it may go on; when it is over
    (or the count cannot be made and the limit fails closed), the seconds until the limit's window
    ends: when to try again."""
    try:
        usage = get_usage(request, group=group, key=_address, rate=rate, method=method, increment=True)
    except Exception as exc:  # noqa: BLE001 - any error of the cache client
        logger.warning("rate limit not counted group=%s closed=%s error=%s", group, fail_closed, type(exc).__name__)
        return UNCOUNTED_RETRY_SECONDS if fail_closed else None
    if usage is None or not usage["should_limit"]:
        return None
    # time_left is -1 when django-ratelimit could not count (RATELIMIT_FAIL_OPEN is off).
    return max(1, usage["time_left"]) if usage["time_left"] > 0 else UNCOUNTED_RETRY_SECONDS


def _address(group: str, request: HttpRequest) -> str:
    """What a rate limit counts: the address the live-hold cap and the lockout count too
    (core.addresses.client_ip), never an error for a request without the load balancer's header."""
    return client_ip(request) or ""


def limited(request: HttpRequest, *, group: str, rate: str, fail_closed: bool, method: str = "POST") -> bool:
    """Count this request against the address's limit; True when it is over (or when the count
    cannot be made and the limit fails closed)."""
    return over_limit(request, group=group, rate=rate, fail_closed=fail_closed, method=method) is not None


def keyed_hash(value: str, *, purpose: str) -> str:
    """A stable, keyed hash of an address or a phone number (HMAC-SHA256 with SECRET_KEY, 64 hex
    digits): the same value gives the same hash for one purpose, and nobody can tell the value."""
    return salted_hmac(f"movilidad.limits.{purpose}", value, algorithm="sha256").hexdigest()


def client_key(request: HttpRequest) -> str:
    """The keyed hash of the client's address as the limits count it, "" when it has none."""
    address = client_ip(request)
    return keyed_hash(address, purpose="address") if address else ""


# Namespaces of the advisory locks (the first of pg_advisory_xact_lock's two int keys).
ADDRESS_LOCK = 1301
PHONE_LOCK = 1302


def lock_key(namespace: int, hashed: str) -> None:
    """Inside a transaction: wait for (and hold until it ends) PostgreSQL's advisory lock on this
    keyed hash, so a count made after it cannot be raced by a request of the same key. Bounded by
    the transaction's lock_timeout like the row locks."""
    if connection.vendor != "postgresql" or not hashed:
        return
    key = int.from_bytes(bytes.fromhex(hashed[:8]), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [namespace, key])


def minutes(seconds: float) -> int:
    """Whole minutes to wait, rounded up (never 0)."""
    return max(1, math.ceil(seconds / 60))


def try_again(seconds: float, *, at: datetime.datetime | None = None, zone: Any = None) -> str:
    """ "Please try again in N minutes", with the local time when the place's zone is known."""
    count = minutes(seconds)
    if at is None or zone is None:
        return ngettext(
            "Please try again in %(minutes)s minute.", "Please try again in %(minutes)s minutes.", count
        ) % {"minutes": count}
    with timezone.override(zone):
        time = time_format(timezone.localtime(at), "H:i")
    return ngettext(
        "Please try again in %(minutes)s minute, at %(time)s.",
        "Please try again in %(minutes)s minutes, at %(time)s.",
        count,
    ) % {"minutes": count, "time": time}


def refused(response: HttpResponse, seconds: float) -> HttpResponse:
    """The page, as the answer to a request over a limit: 429 with Retry-After."""
    response.status_code = 429
    response["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response
