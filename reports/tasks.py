"""The reports' periodic work (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from reports import services


@shared_task
def refresh_daily_stats() -> int:
    """Count the recent days again into the anonymous daily statistics."""
    return services.refresh_recent_daily_stats()
