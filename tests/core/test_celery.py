"""A real Celery worker process runs a project task end to end (no eager mode)."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.tasks import clear_expired_sessions
from movilidad.celery import app as celery_app
from tests.conftest import database_url


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


def test_make_run_broker_worker_with_embedded_beat(transactional_db: None, tmp_path: Path) -> None:
    """The `make run` setup: kombu's filesystem transport, a worker and embedded beat, no server."""
    expired = SessionStore()
    expired.set_expiry(timezone.now() - timedelta(minutes=1))
    expired.create()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "FILESYSTEM_BROKER_DIR": str(tmp_path / "broker"),
        "CELERY_RESULT_BACKEND": "",
    }
    command = [sys.executable, "-m", "celery", "-A", "tests.core.beat_app", "worker", "--beat", "--pool", "solo"]
    worker = subprocess.Popen(
        [*command, "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while Session.objects.filter(session_key=expired.session_key).exists():
            assert worker.poll() is None, f"worker exited with status {worker.returncode}"
            assert time.monotonic() < deadline, "beat's task did not run within 60 s"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # Everything the transport writes stays in its folder, none of it in the project checkout.
    assert sorted(p.name for p in (tmp_path / "broker" / "control").iterdir()) == [
        "celery.exchange",
        "celery.pidbox.exchange",
    ]
