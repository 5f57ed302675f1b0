"""Rate limits counted in the cache (django-ratelimit), and what each does when the cache cannot
count: a limit that protects something scarce or secret fails closed (the request is refused with
"try again later"), one that only slows people down fails open (the request goes through).

Today's limits, both closed:
- holds per address (`appointments.hold`): places are scarce; without a count, one address could
  take them all;
- lookups by reference and date of birth per address (`appointments.manage`): without a count,
  dates of birth could be tried at will.
"""

import logging

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


def limited(request: HttpRequest, *, group: str, rate: str, fail_closed: bool, method: str = "POST") -> bool:
    """Count this request against the address's limit; True when it is over (or when the count
    cannot be made and the limit fails closed)."""
    try:
        return is_ratelimited(request, group=group, key="ip", rate=rate, method=method, increment=True)
    except Exception as exc:  # noqa: BLE001 - any error of the cache client
        logger.warning("rate limit not counted group=%s closed=%s error=%s", group, fail_closed, type(exc).__name__)
        return fail_closed
