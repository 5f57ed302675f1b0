"""The reports' background work: export files (enqueued after commit) and the periodic tasks
scheduled in settings.CELERY_BEAT_SCHEDULE. Thin: ids in, a service called."""

from celery import shared_task

from reports import services


@shared_task
def refresh_daily_stats() -> int:
    """Count the recent days again into the anonymous daily statistics."""
    return services.refresh_recent_daily_stats()


@shared_task
def make_export_file(export_id: str) -> str:
    """Write one export file (the permission checked again here); returns its status."""
    made = services.make_export_file(export_id=export_id)
    return made.status if made else "missing"


@shared_task
def delete_expired_exports() -> int:
    """Delete the export files older than 24 hours."""
    return services.delete_expired_exports()
