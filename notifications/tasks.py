"""Thin tasks over the outbox services (periodic ones are scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from notifications import sending, services


# Cut well under NOTIFICATION_SENDING_TIMEOUT, so a message handed out again is never still being
# sent by the first worker.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=False, soft_time_limit=90, time_limit=120)
def send_notification(notification_id: int) -> str:
    """Send one message; harmless when delivered twice (the row is claimed first)."""
    return sending.send(notification_id=notification_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=False, soft_time_limit=90, time_limit=120)
def send_notifications(notification_ids: list[int]) -> dict[str, int]:
    """Send a batch of messages, each claimed before it is sent (sending.send_many); the batch
    hands its rest on before the time limit."""
    return sending.send_many(notification_ids=notification_ids)


@shared_task
def dispatch_notifications() -> dict[str, int]:
    """Recover messages stuck in "sending" and enqueue due ones whose task never ran."""
    return services.dispatch()


@shared_task
def schedule_reminders() -> int:
    """Write the reminders of appointments entering their window; returns how many rows."""
    return services.schedule_reminders()
