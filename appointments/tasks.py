"""Periodic booking upkeep (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from appointments.services import booking, closures, phone_codes, slots


@shared_task
def generate_slots() -> dict[str, int]:
    """Keep every office's slots matching its hours, closures and horizon."""
    return vars(slots.generate_all_slots())


@shared_task
def purge_expired_holds() -> int:
    """Give back the places of holds that expired; return how many. Phone checks of no hold that
    are over go too (a lottery request or waitlist entry whose code was never entered)."""
    phone_codes.purge_unlinked_checks()
    return booking.purge_expired_holds()


@shared_task
def handle_closure(run_id: int) -> dict[str, int] | None:
    """Move or cancel the appointments a closure left behind (appointments.services.closures)."""
    run = closures.run_closure(run_id=run_id)
    return None if run is None else {"moved": run.moved, "cancelled": run.cancelled, "unplaced": len(run.unplaced)}
