"""The nightly retention run (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from retention import services


@shared_task
def run_retention() -> dict[str, int]:
    """Erase the personal data that is due (see retention.services)."""
    return services.run_retention()
