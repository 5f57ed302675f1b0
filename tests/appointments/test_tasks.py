"""The periodic booking upkeep runs in a real Celery worker and is scheduled by beat."""

import datetime
import subprocess

from django.conf import settings
from django.utils import timezone

from appointments.models import Hold, Slot
from appointments.tasks import generate_slots, purge_expired_holds
from tests.appointments.conftest import OfficeFactory


def test_beat_runs_slot_generation_hourly_and_the_hold_purge_every_minute() -> None:
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["appointments.tasks.generate_slots"] == 60 * 60
    assert schedule["appointments.tasks.purge_expired_holds"] == 60


def test_the_worker_generates_slots_and_purges_expired_holds(celery_worker: subprocess.Popen, published) -> None:
    office = OfficeFactory()
    assert not Slot.objects.filter(office=office).exists()

    created = generate_slots.delay().get(timeout=30)

    assert created["created"] == Slot.objects.filter(office=office).count() > 0
    slot = Slot.objects.filter(office=office).first()
    Hold.objects.create(slot=slot, token="6f1d4d5e-8f5a-4d55-9a39-0c1d2e3f4a5b", expires_at=timezone.now())
    Slot.objects.filter(pk=slot.pk).update(taken=1)
    Hold.objects.create(
        slot=slot,
        token="0e2b1c3d-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    Slot.objects.filter(pk=slot.pk).update(taken=2)

    assert purge_expired_holds.delay().get(timeout=30) == 1
    slot.refresh_from_db()
    assert slot.taken == 1
    assert Hold.objects.count() == 1
