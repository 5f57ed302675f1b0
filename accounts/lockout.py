"""The sign-in lockout (django-axes): failures are counted per username and per client address,
separately, in the database; either count reaching AXES_FAILURE_LIMIT within AXES_COOLOFF_TIME
locks sign-in for that username (from everywhere) or from that address (for everyone)."""

import datetime
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone


class SignInHandler(AxesDatabaseHandler):
    """django-axes' database handler, with a narrower reset on success."""

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A successful sign-in forgets that username's own failures, from every address, and no
        one else's. (django-axes also deletes every failure from the same address: then anyone
        with an account could wipe the count of the passwords they tried on a colleague's
        username by signing in as themselves in between.)"""
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def locked_until(request: HttpRequest, credentials: dict | None = None) -> datetime.datetime:
    """When the lock on this request's username or address ends: for each of the two, the newest
    failures that reach the limit, and when the oldest of those stops counting."""
    cool_off = settings.AXES_COOLOFF_TIME
    ends = []
    for attempts in SignInHandler().get_user_attempts(request, credentials):
        counted = 0
        for attempt_time, failures in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            counted += failures
            if counted >= settings.AXES_FAILURE_LIMIT:
                ends.append(attempt_time + cool_off)
                break
    return max(ends, default=timezone.now() + cool_off)


def minutes_left(until: datetime.datetime, now: datetime.datetime | None = None) -> int:
    """Whole minutes until `until`, rounded up, at least 1."""
    seconds = (until - (now or timezone.now())).total_seconds()
    return max(1, -int(-seconds // 60))


def lockout_context(request: HttpRequest, credentials: Any) -> dict[str, Any]:
    until = locked_until(request, credentials)
    return {"until": until, "minutes": minutes_left(until), "limit": settings.AXES_FAILURE_LIMIT}
