"""The queue's periodic work (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from desk import services


@shared_task
def close_finished_days() -> dict[str, int]:
    """Close each office's day after its closing time plus grace: no-shows and tickets left waiting."""
    return services.close_finished_days()
