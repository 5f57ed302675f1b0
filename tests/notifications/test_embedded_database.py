"""`make run` keeps its data in SQLite (the suite itself runs on PostgreSQL, as production does):
the outbox's own SQL must run there too. It did not: claiming a batch (`id = ANY(%s)`) and erasing
a message's secrets (jsonb operators) were PostgreSQL's, so with `make run` no SMS or e-mail was
ever sent, phone codes included, and nobody could finish a booking (found by
bench/bench_page_weight.py, which goes through `make run`'s journey)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

# The servers the suite's environment names: `make run` has none of them.
SERVICES = ("DATABASE_URL", "CACHE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "EMAIL_URL")

SCRIPT = """
import datetime, json, sys
import django
django.setup()
from django.db import transaction
from django.utils import timezone
from notifications import sending, services
from notifications.models import Notification
from tests.appointments.conftest import OfficeFactory

office = OfficeFactory()
now = timezone.now()
expires = (now + datetime.timedelta(minutes=10)).isoformat()
with transaction.atomic():
    code = services.notify_person(
        kind=Notification.Kind.PHONE_CODE, office=office, phone="+573001234567", language="es",
        details={"code": "123456", "minutes": 10, "expires_at": expires}, now=now,
    )
    stuck = services.notify_person(
        kind=Notification.Kind.PHONE_CODE, office=office, phone="+573007654321", language="es",
        details={"code": "654321", "minutes": 10, "expires_at": expires}, now=now,
    )
outcome = sending.send_many(notification_ids=[code.pk], now=now)
# A message whose worker died while sending, too many times: the safety net ends it.
Notification.objects.filter(pk=stuck.pk).update(
    status=Notification.Status.SENDING, attempts=99, claimed_at=now - datetime.timedelta(hours=1)
)
safety_net = services.dispatch(now=now)
rows = {row.pk: row for row in Notification.objects.all()}
json.dump({
    "outcome": outcome, "safety_net": safety_net,
    "sent": [rows[code.pk].status, rows[code.pk].details],
    "stuck": [rows[stuck.pk].status, rows[stuck.pk].details],
}, sys.stdout)
"""


def test_the_outbox_sends_and_ends_messages_on_make_run_s_sqlite(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name not in SERVICES}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SMS_FILE_PATH=str(tmp_path / "sms"),
        DJANGO_SETTINGS_MODULE="movilidad.settings",
    )
    run = {"cwd": settings.BASE_DIR, "env": env, "capture_output": True, "text": True, "timeout": 300}
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run, check=False)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", SCRIPT], **run, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sent"][0] == "sent"
    assert result["sent"][1] == {"minutes": 10, "expires_at": result["sent"][1]["expires_at"], "secrets_erased": True}
    [sms] = (tmp_path / "sms").glob("*.txt")
    assert "123456" in sms.read_text(encoding="utf-8"), "the code reached the SMS file, then left the row"
    assert result["safety_net"]["failed"] == 1
    assert result["stuck"][0] == "failed"
    assert "code" not in result["stuck"][1]
    assert result["stuck"][1]["secrets_erased"] is True
