"""Lottery requests and waitlist entries at offices that verify phones (issue 13). What was typed
waits in a `PendingRequest`, linked to a `PhoneCheck` of no hold, until the code sent by SMS to its
number is entered (appointments.services.phone_codes sends and checks the codes, as for a
booking); only then is the request or entry made, by the flow's own service, and the pending row
deleted with its check. A pending request is counted nowhere: not in the draw, not on the list, not
in the one-per-document and one-per-phone rules."""

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from allocation.models import PendingRequest
from allocation.models.lottery import Draw
from appointments.models import Office, PhoneCheck
from appointments.services import phone_codes

Kind = PendingRequest.Kind


def live_pending(
    pending_id: Any, *, kind: str, office: Office, draw: Draw | None = None, now: datetime.datetime | None = None
) -> PendingRequest | None:
    """The pending request of this id for this kind, office and draw, unless its check is over."""
    if not isinstance(pending_id, int):
        return None
    pending = (
        PendingRequest.objects.select_related("phone_check")
        .filter(pk=pending_id, kind=kind, office=office, draw=draw)
        .first()
    )
    if pending is None or phone_codes.unlinked_check_ends_at(pending.phone_check) <= (now or timezone.now()):
        return None
    return pending


def keep_pending(
    *,
    pending_id: Any,
    kind: str,
    office: Office,
    draw: Draw | None,
    screening_id: int,
    values: dict[str, Any],
    now: datetime.datetime | None = None,
) -> PendingRequest:
    """Keep what was typed until the code is entered: in this browser's pending request when it is
    still live (its check goes on: a changed number gets the next code, within the codes one check
    allows), else in a new one with a new check."""
    with transaction.atomic():
        pending = live_pending(pending_id, kind=kind, office=office, draw=draw, now=now)
        if pending is None:
            return PendingRequest.objects.create(
                phone_check=phone_codes.new_check(),
                kind=kind,
                office=office,
                draw=draw,
                screening_id=screening_id,
                details=values,
            )
        pending.details, pending.screening_id = values, screening_id
        pending.save(update_fields=["details", "screening"])
        return pending


def forget(pending: PendingRequest) -> None:
    """The request or entry is made: delete what was typed, with its check."""
    PhoneCheck.objects.filter(pk=pending.phone_check_id).delete()
