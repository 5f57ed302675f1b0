"""Messages handed to the worker in batches (one task a message cost more than its sending): each
is still claimed on its own before it is sent, a batch delivered twice sends each once, and a slow
batch hands its rest on before its time limit. Each message renders only what its channel sends."""

import pytest
from django.test.signals import template_rendered

from notifications import sending, services, tasks
from notifications.models import Notification
from tests.appointments.conftest import NOW
from tests.notifications.conftest import book, sms_files

pytestmark = pytest.mark.django_db
Kind, Status = Notification.Kind, Notification.Status


def person_messages(office, count: int) -> list[int]:
    return [
        services.notify_person(
            kind=Kind.PHONE_CODE,
            office=office,
            phone=f"+5730012345{n:02d}",
            language="es",
            details={"code": f"{n:06d}", "minutes": 10},
            now=NOW,
        ).pk
        for n in range(count)
    ]


def test_enqueue_hands_the_messages_over_in_batches(office, monkeypatch):
    handed: list[list[int]] = []
    monkeypatch.setattr(tasks.send_notifications, "delay", handed.append)
    ids = person_messages(office, services.SEND_BATCH + 3)
    assert services.enqueue(ids) == len(ids)
    assert handed == [ids[: services.SEND_BATCH], ids[services.SEND_BATCH :]]
    assert not Notification.objects.filter(pk__in=ids, enqueued_at__isnull=True).exists()


def test_a_batch_delivered_twice_sends_each_message_once(office, sms_folder):
    ids = person_messages(office, 3)
    assert sending.send_many(notification_ids=ids) == {Status.SENT: 3}
    assert sending.send_many(notification_ids=ids) == {"skipped": 3}
    assert len(sms_files(sms_folder)) == 3
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.SENT}


def test_a_slow_batch_hands_the_messages_not_started_on(office, sms_folder, monkeypatch):
    ids = person_messages(office, 4)
    clock = iter([0.0, 1.0, sending.BATCH_SECONDS + 1])  # the second message is sent after the limit
    monkeypatch.setattr(sending, "batch_clock", lambda: next(clock))
    handed: list[list[int]] = []
    monkeypatch.setattr(sending, "enqueue", lambda rest: handed.append(rest) or len(rest))
    assert sending.send_many(notification_ids=ids) == {Status.SENT: 1, "handed on": 3}
    assert handed == [ids[1:]]
    assert len(sms_files(sms_folder)) == 1
    # Not claimed: the new task sends them.
    assert list(Notification.objects.filter(pk__in=ids[1:]).values_list("status", flat=True)) == [Status.PENDING] * 3


def test_the_batch_task_ends_before_a_message_is_handed_out_again(settings):
    task = tasks.send_notifications
    assert sending.BATCH_SECONDS + max(settings.EMAIL_TIMEOUT, settings.SMS_HTTP_TIMEOUT) < task.soft_time_limit
    assert task.soft_time_limit < task.time_limit < settings.NOTIFICATION_SENDING_TIMEOUT
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True


def test_each_message_renders_only_what_its_channel_sends(office, published, sms_folder):
    book(office, published, email="ana@example.org")
    rendered: list[str] = []

    def record(sender, template, context, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(record)
    try:
        for channel in ("sms", "email"):
            rendered.clear()
            message = Notification.objects.get(channel=channel, kind=Kind.CONFIRMATION)
            assert sending.send(notification_id=message.pk, now=NOW) == Status.SENT
            names = {name for name in rendered if name.startswith("notifications/")}
            if channel == "sms":
                assert names == {"notifications/sms.txt"}
            else:
                assert names == {
                    "notifications/email_subject.txt",
                    "notifications/email.txt",
                    "notifications/email.html",
                }
    finally:
        template_rendered.disconnect(record)
