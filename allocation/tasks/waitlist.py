"""The waitlist's tasks: a freed place offered to the first person waiting, and the per-minute
upkeep (settings.CELERY_BEAT_SCHEDULE). Thin: ids in, a service call."""

import logging
from typing import Any

from celery import shared_task

from allocation import waitlist_services

logger = logging.getLogger(__name__)

__all__ = ["offer_freed_place", "waitlist_upkeep"]


@shared_task
def offer_freed_place(slot_id: int) -> int | None:
    """Offer a place of this slot to the first person waiting; the entry's id, or None."""
    entry = waitlist_services.offer_freed_place(slot_id=slot_id)
    return None if entry is None else entry.pk


@shared_task
def waitlist_upkeep() -> dict[str, int]:
    """Offers not taken in time pass on; answers too old, and people who booked by themselves, leave
    the list; free places are offered."""
    return {
        "missed": waitlist_services.pass_on_expired_offers(),
        "lapsed": waitlist_services.lapse_old_entries(),
        "booked": waitlist_services.close_booked_entries(),
        "offered": waitlist_services.offer_free_places(),
    }


def on_place_freed(sender: Any, *, office_id: int, slot_id: int, **kwargs: Any) -> None:
    """appointments.signals.place_freed (sent after commit): enqueue the offer. A broker that is
    down loses nothing for good: the per-minute upkeep offers free places too."""
    try:
        offer_freed_place.delay(slot_id)
    except Exception as exc:  # noqa: BLE001 - a broker outage must not fail the cancellation
        logger.warning("waitlist offer not enqueued slot=%s error=%s", slot_id, type(exc).__name__)
