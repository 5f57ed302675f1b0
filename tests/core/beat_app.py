"""The project's Celery app with one periodic task every second, for the embedded-beat test."""

from movilidad.celery import app

app.conf.beat_schedule = {
    "clear-expired-sessions-now": {"task": "core.tasks.clear_expired_sessions", "schedule": 1.0},
}
