"""Places in slots: the row locks, the `taken` counter and the cache of what is free.

Every change that takes or frees a place locks the slot row, re-checks, and writes in one
transaction. The slot's `taken` counter moves in that same transaction, and a CHECK constraint on
it makes overbooking impossible even for a path that forgets the lock (docs/architecture.md)."""

import datetime
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from appointments.errors import BookingError, ErrorCode, busy_error
from appointments.models import Hold, Slot

logger = logging.getLogger(__name__)

# PostgreSQL's codes for a lock wait that timed out, a deadlock and a serialisation failure.
BUSY_CODES = {"55P03", "40P01", "40001"}


@contextmanager
def bounded_lock_waits() -> Iterator[None]:
    """Inside a transaction: give up a lock wait after BOOKING_LOCK_TIMEOUT_MS instead of queueing
    behind a rush, and turn that (or a deadlock) into a "busy" BookingError."""
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.BOOKING_LOCK_TIMEOUT_MS}ms"])
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) in BUSY_CODES:
            raise busy_error() from exc
        raise


def availability_key(office_id: int) -> str:
    return f"appointments:availability:{office_id}"


def _bump_availability(office_id: int) -> None:
    """Make cached availability of the office out of date (selectors.times_of_day)."""
    key = availability_key(office_id)
    try:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=None)
    except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a booking; entries expire anyway
        logger.warning("availability version not bumped office=%s error=%s", office_id, type(exc).__name__)


def places_changed(*office_ids: int) -> None:
    """After this transaction commits, cached places of these offices are stale."""
    for office_id in set(office_ids):
        transaction.on_commit(partial(_bump_availability, office_id))


def lock_slots(*slot_ids: int) -> dict[int, Slot]:
    """Lock the slots in id order (so two changes never wait on each other crosswise). Whatever
    the caller then commits changes places in them, so cached availability is refreshed."""
    slots = Slot.objects.select_for_update(of=("self",)).select_related("office").filter(pk__in=slot_ids)
    found = {slot.pk: slot for slot in slots.order_by("pk")}
    if len(found) != len(set(slot_ids)):
        raise BookingError(_("This time is no longer offered. Please choose another one."), code=ErrorCode.UNAVAILABLE)
    places_changed(*(slot.office_id for slot in found.values()))
    return found


def purge_expired_in(slot: Slot, now: datetime.datetime) -> None:
    # Counted per model: a hold's phone check (PhoneCheck) goes with it and is no place.
    _total, counts = Hold.objects.filter(slot=slot, expires_at__lte=now).delete()
    expired = counts.get(Hold._meta.label, 0)  # noqa: SLF001
    if expired:
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") - expired)
        slot.taken -= expired


def take_place(slot: Slot) -> None:
    if slot.taken >= slot.capacity:
        raise BookingError(_("This time is now full. Please choose another one."), code=ErrorCode.FULL)
    Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + 1)
    slot.taken += 1


def release_place(slot_id: int) -> None:
    # Giving back a place a closure left stranded must not reopen it to others.
    Slot.objects.filter(pk=slot_id).update(taken=F("taken") - 1, stranded=Greatest(F("stranded") - 1, 0))


def hold_slot_id(token: uuid.UUID | None) -> int | None:
    if token is None:
        return None
    return Hold.objects.filter(token=token).values_list("slot_id", flat=True).first()


def release_held_place(token: uuid.UUID | None) -> None:
    """Delete the hold and give its place back; the caller has locked the hold's slot."""
    slot_id = hold_slot_id(token)
    if slot_id is not None and Hold.objects.filter(token=token).delete()[0]:
        Slot.objects.filter(pk=slot_id).update(taken=F("taken") - 1)
