"""A real Celery worker process runs a project task end to end (no eager mode)."""

import subprocess
from datetime import timedelta

from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.tasks import clear_expired_sessions
from movilidad.celery import app as celery_app


def test_eager_mode_is_off() -> None:
    assert celery_app.conf.task_always_eager is False


def test_worker_clears_expired_sessions(celery_worker: subprocess.Popen) -> None:
    expired = SessionStore()
    expired["answers"] = {"question": "yes"}
    expired.set_expiry(timezone.now() - timedelta(minutes=1))
    expired.create()
    live = SessionStore()
    live["answers"] = {"question": "no"}
    live.create()

    result = clear_expired_sessions.delay()

    assert result.get(timeout=30) == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_beat_schedule_names_only_registered_tasks() -> None:
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled
    assert scheduled <= set(celery_app.tasks)
