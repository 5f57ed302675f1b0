"""A batch is claimed in one statement (notifications.sending.send_many): two workers given the same
messages at once still send each once, a message that fails inside a batch neither loses nor
repeats the others, and a batch that stops early gives back what it had not begun."""

import gc
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import OperationalError, connection

from notifications import sending, services
from notifications.models import Notification
from tests.appointments.conftest import NOW
from tests.notifications.conftest import book, sms_files

Kind, Status = Notification.Kind, Notification.Status


def person_messages(office, count: int, **details: Any) -> list[int]:
    return [
        services.notify_person(
            kind=Kind.PHONE_CODE,
            office=office,
            phone=f"+5730012345{n:02d}",
            language="es",
            details={"code": f"{n:06d}", "minutes": 10, **details},
            now=NOW,
        ).pk
        for n in range(count)
    ]


def recipients(folder) -> Counter[str]:
    return Counter(text.split("\n", 1)[0].removeprefix("To: ") for text in sms_files(folder))


def two_workers_at_once(ids: list[int], monkeypatch) -> list[dict[str, int]]:
    """Both batches claim before either sends (they wait for each other once claimed)."""
    both_claimed = threading.Barrier(2, timeout=30)
    read = sending._read_what_rendering_needs

    def read_once_both_claimed(notifications):
        both_claimed.wait()
        return read(notifications)

    monkeypatch.setattr(sending, "_read_what_rendering_needs", read_once_both_claimed)

    def worker(_: int) -> dict[str, int]:
        try:
            return sending.send_many(notification_ids=ids, now=NOW)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(worker, range(2)))


@pytest.mark.django_db(transaction=True)
def test_two_workers_given_the_same_batch_at_once_send_each_message_once(office, published, sms_folder, monkeypatch):
    appointment = book(office, published, email="")
    ids = person_messages(office, 20) + list(
        Notification.objects.filter(appointment=appointment).values_list("pk", flat=True)
    )
    outcomes = two_workers_at_once(ids, monkeypatch)
    assert Counter(outcomes[0]) + Counter(outcomes[1]) == {Status.SENT: 21, "skipped": 21}
    sent = recipients(sms_folder)
    assert sum(sent.values()) == 21
    assert max(sent.values()) == 1
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", "attempts")) == {(Status.SENT, 1)}


@pytest.mark.django_db(transaction=True)
def test_control_a_claim_that_does_not_check_the_status_sends_twice(office, sms_folder, monkeypatch):
    ids = person_messages(office, 5)

    def claim_whatever_the_status(notification_ids, now):
        Notification.objects.filter(pk__in=notification_ids).update(status=Status.SENDING, attempts=1)
        return Notification.objects.in_bulk(notification_ids)

    monkeypatch.setattr(sending, "_claim", claim_whatever_the_status)
    two_workers_at_once(ids, monkeypatch)
    assert max(recipients(sms_folder).values()) == 2


class OneNumberRefused:
    """An SMS provider that takes every message but those to one number."""

    refused = "+573001234501"

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        if to == self.refused:
            from notifications.sms import SmsError

            raise SmsError("provider unreachable: TimeoutError", permanent=False)
        from notifications.sms import FileBackend

        return FileBackend().send(to=to, text=text, reference=reference)


@pytest.mark.django_db
def test_messages_that_fail_inside_a_batch_leave_the_others_sent_once(office, sms_folder, settings):
    settings.SMS_BACKEND = f"{__name__}.OneNumberRefused"
    ids = person_messages(office, 5)
    # A programming error in one message's details (what it offered cannot be read).
    Notification.objects.filter(pk=ids[3]).update(details={"code": "000003", "minutes": 10, "expires_at": "soon"})
    assert sending.send_many(notification_ids=ids, now=NOW) == {Status.SENT: 3, Status.PENDING: 2}
    assert recipients(sms_folder) == {"+573001234500": 1, "+573001234502": 1, "+573001234504": 1}
    failed = Notification.objects.filter(pk__in=[ids[1], ids[3]])
    assert sorted(failed.values_list("last_error", flat=True)) == [
        "provider unreachable: TimeoutError",
        "unexpected ValueError",
    ]
    assert set(failed.values_list("status", flat=True)) == {Status.PENDING}
    # Delivered again: nothing is sent twice, the failed ones wait for their retry.
    assert sending.send_many(notification_ids=ids, now=NOW) == {"skipped": 5}
    assert sum(recipients(sms_folder).values()) == 3


@pytest.mark.parametrize(
    "recorded",
    [
        # In a worker (no transaction around the batch) outcomes are written by a thread of their own.
        pytest.param("on a thread", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("in turn", marks=pytest.mark.django_db),
    ],
)
def test_a_batch_stopped_by_a_lost_database_gives_back_what_it_had_not_begun(recorded, office, sms_folder, monkeypatch):
    ids = person_messages(office, 4)
    finish = sending._finish
    calls = []

    def database_lost_on_the_second(notification, status, **kwargs):
        calls.append(notification.pk)
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return finish(notification, status, **kwargs)

    monkeypatch.setattr(sending, "_finish", database_lost_on_the_second)
    with pytest.raises(OperationalError):
        sending.send_many(notification_ids=ids, now=NOW)
    rows = Notification.objects.in_bulk(ids)
    assert rows[ids[0]].status == Status.SENT
    # Its SMS may have left: it stays claimed, and the dispatcher decides after its timeout.
    assert rows[ids[1]].status == Status.SENDING
    assert [(rows[pk].status, rows[pk].attempts, rows[pk].claimed_at) for pk in ids[2:]] == [
        (Status.PENDING, 0, None)
    ] * 2
    assert sum(recipients(sms_folder).values()) == 2


@pytest.mark.django_db
def test_a_batch_reads_what_rendering_needs_in_a_few_queries(
    office, published, sms_folder, django_assert_max_num_queries
):
    for n in range(5):
        book(
            office,
            published,
            email=f"ana{n}@example.org",
            document_number=f"C{n:07d}",
            phone=f"+57300765432{n}",
            hours=48 + 24 * n,
        )
    ids = list(Notification.objects.values_list("pk", flat=True)) + person_messages(office, 5)
    assert len(ids) == 15
    # A claim, the appointments under their locks (with a transaction's two statements), the
    # offices and their pathways, then one statement to record each message.
    with django_assert_max_num_queries(1 + 3 + 2 + len(ids)):
        assert sending.send_many(notification_ids=ids, now=NOW) == {Status.SENT: 15}


@pytest.mark.django_db
def test_an_e_mail_refused_inside_a_batch_does_not_stop_the_next(office, published, smtp_server, sms_folder):
    for n in range(3):
        book(
            office,
            published,
            email=f"ana{n}@example.org",
            document_number=f"M{n:07d}",
            phone=f"+57300765431{n}",
            hours=48 + 24 * n,
        )
    ids = list(Notification.objects.filter(channel="email").order_by("pk").values_list("pk", flat=True))
    smtp_server.refuse = ["451 4.3.0 Try again later"]  # the first e-mail's recipient, once
    assert sending.send_many(notification_ids=ids, now=NOW) == {Status.SENT: 2, Status.PENDING: 1}
    assert [envelope.rcpt_tos for envelope in smtp_server.messages] == [["ana1@example.org"], ["ana2@example.org"]]
    assert Notification.objects.get(pk=ids[0]).last_error == "recipient refused: [451]"


@pytest.mark.django_db(transaction=True)
def test_a_batch_recorded_on_a_thread_leaves_no_connection_open(office, sms_folder):
    """The recording thread closes its own connection when the batch ends: a Celery worker sends
    batch after batch, and a connection left to the garbage collector each time would use up the
    database's. Counted with the collector off, as a worker between collections."""
    ids = person_messages(office, 3)

    def others() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    before = others()
    gc.disable()
    try:
        for _batch in range(2):
            assert sending.send_many(notification_ids=ids[_batch::2], now=NOW) == {Status.SENT: len(ids[_batch::2])}
        # A closed connection's backend leaves pg_stat_activity a moment later: wait for it, a
        # few seconds at most (a connection left open never leaves).
        deadline = time.monotonic() + 10
        while (left := others()) > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == before
    finally:
        gc.enable()
