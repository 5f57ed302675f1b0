"""Signals that let higher apps follow the booking without `appointments` importing them.

`place_freed` is sent once the transaction that gave a place back has committed: a cancellation,
a move (its old slot), a hold released or purged once expired. Arguments: `office_id`,
`slot_id`. `allocation` connects to it (the waitlist offers the place to the first person
waiting); it is news, not domain flow: whoever receives it must not fail the sender."""

import logging
from functools import partial

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

place_freed = Signal()


def _send(office_id: int, slot_id: int) -> None:
    for receiver, result in place_freed.send_robust(sender=None, office_id=office_id, slot_id=slot_id):
        if isinstance(result, Exception):
            logger.warning("place_freed receiver failed receiver=%s error=%s", receiver, type(result).__name__)


def freed_on_commit(*, office_id: int, slot_id: int) -> None:
    """Send `place_freed` for this slot after the caller's transaction commits (not at all if it
    rolls back)."""
    transaction.on_commit(partial(_send, office_id, slot_id))
