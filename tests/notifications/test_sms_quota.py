"""SMS per phone number per day (SMS_PER_PHONE_PER_DAY, and PHONE_CODES_PER_PHONE_PER_DAY for
codes apart), counted in Redis by a keyed hash of the number: the SMS just under the quota is sent,
the one over it is not (cancelled, with the reason), its e-mail still is; a retry is not counted
again; the count starts afresh the next day; codes never use up the number's other SMS."""

import datetime
import uuid

import pytest
from django.core import mail
from django.core.cache import cache, caches

from notifications import sending, services
from notifications.models import Notification
from notifications.sms import SmsError
from tests.appointments.conftest import NOW
from tests.notifications.conftest import book, sms_files

pytestmark = pytest.mark.django_db
Status = Notification.Status


@pytest.fixture
def phone() -> str:
    # A number of this test's own: the counts are in Redis, which outlives the test.
    return f"+57310{uuid.uuid4().int % 10**7:07d}"


@pytest.fixture(autouse=True)
def quota(settings) -> None:
    settings.SMS_PER_PHONE_PER_DAY = 2
    settings.PHONE_CODES_PER_PHONE_PER_DAY = 2
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 10


def send_all(now=NOW) -> list[str]:
    return [
        sending.send(notification_id=pk, now=now)
        for pk in Notification.objects.order_by("pk").values_list("pk", flat=True)
    ]


def test_an_sms_over_the_daily_quota_is_not_sent_and_its_e_mail_still_is(office, published, phone, sms_folder):
    for n in range(3):
        book(office, published, phone=phone, document_number=f"SMSQ{n}", email=f"p{n}@example.org", hours=48 + n)
    send_all()
    sms = Notification.objects.filter(channel="sms").order_by("pk")
    assert list(sms.values_list("status", flat=True)) == [Status.SENT, Status.SENT, Status.CANCELLED]
    assert sms.last().last_error == services.OVER_SMS_QUOTA
    assert len(sms_files(sms_folder)) == 2
    assert set(Notification.objects.filter(channel="email").values_list("status", flat=True)) == {Status.SENT}
    assert len(mail.outbox) == 3
    # The count is kept under a keyed hash, never the number.
    assert not [key for key in cache._cache.get_client().keys("*") if phone[1:].encode() in key]


def test_the_quota_is_per_number_whatever_its_spelling_and_per_day(office, published, phone, sms_folder):
    assert services.sms_quota_left(phone, NOW) == 2
    assert services.take_sms_quota(phone, NOW) is True
    national = f"+57 {phone[3:6]} {phone[6:]}"
    assert services.take_sms_quota(national, NOW) is True  # just under: the second
    assert services.sms_quota_left(phone, NOW) == 0
    assert services.take_sms_quota(phone, NOW) is False
    resets = services.sms_quota_resets_at(NOW)
    assert resets == datetime.datetime.combine(NOW.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    assert services.sms_quota_left(phone, resets) == 2
    assert services.take_sms_quota(phone, resets) is True


def person_message(office, phone, kind=Notification.Kind.PHONE_CODE, now=NOW) -> Notification:
    details = {"code": "1"} if kind == Notification.Kind.PHONE_CODE else {"event": "requested", "number": "ABCDEFGH"}
    return services.notify_person(kind=kind, office=office, phone=phone, language="es", details=details, now=now)


def test_a_message_to_a_person_over_the_quota_is_not_sent(office, phone, sms_folder):
    services.take_sms_quota(phone, NOW)
    services.take_sms_quota(phone, NOW)
    message = person_message(office, phone, Notification.Kind.LOTTERY)
    assert sending.send(notification_id=message.pk, now=NOW) == Status.CANCELLED
    assert Notification.objects.get(pk=message.pk).last_error == services.OVER_SMS_QUOTA
    assert sms_files(sms_folder) == []


def test_codes_have_their_own_quota_and_never_use_up_the_numbers_other_sms(office, phone, sms_folder):
    """Anyone can type a person's number and ask for codes: codes count in their own budget, so
    the person's lottery or waitlist news and confirmations still go once codes are used up, and a
    number whose other SMS are used up still gets a code."""
    codes = [person_message(office, phone) for _ in range(3)]
    assert [sending.send(notification_id=m.pk, now=NOW) for m in codes] == [Status.SENT, Status.SENT, Status.CANCELLED]
    assert Notification.objects.get(pk=codes[-1].pk).last_error == services.OVER_CODE_QUOTA
    assert services.sms_quota_left(phone, NOW, budget=services.CODES) == 0
    assert services.sms_quota_left(phone, NOW) == 2
    news = [person_message(office, phone, Notification.Kind.LOTTERY) for _ in range(2)]
    assert sending.send_many(notification_ids=[m.pk for m in news], now=NOW) == {Status.SENT: 2}
    assert services.sms_quota_left(phone, NOW) == 0
    assert len(sms_files(sms_folder)) == 4
    # The next day each budget starts afresh; a number with its other SMS used up gets a code.
    tomorrow = NOW + datetime.timedelta(days=1)
    services.take_sms_quota(phone, tomorrow)
    services.take_sms_quota(phone, tomorrow)
    assert services.sms_quota_left(phone, tomorrow, budget=services.CODES) == 2
    code = person_message(office, phone, now=tomorrow)
    assert sending.send(notification_id=code.pk, now=tomorrow) == Status.SENT


def test_a_retried_sms_is_counted_once(office, published, phone, monkeypatch, sms_folder):
    book(office, published, phone=phone, email="")
    message = Notification.objects.get()

    def down(**kwargs):
        raise SmsError("provider unreachable", permanent=False)

    monkeypatch.setattr("notifications.sms.FileBackend.send", lambda self, **kwargs: down(**kwargs))
    assert sending.send(notification_id=message.pk, now=NOW) == Status.PENDING
    assert services.sms_quota_left(phone, NOW) == 1
    monkeypatch.undo()
    later = NOW + datetime.timedelta(minutes=5)
    assert sending.send(notification_id=message.pk, now=later) == Status.SENT
    assert services.sms_quota_left(phone, NOW) == 1


def test_without_redis_the_quota_fails_open_unless_asked_closed(phone, settings) -> None:
    dead = {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {**settings.CACHES, "default": dead}
    assert caches["default"] is not None
    assert services.take_sms_quota(phone, NOW) is True
    assert services.take_sms_quota(phone, NOW, fail_closed=True) is False
    assert services.sms_quota_left(phone, NOW) == 2


def test_a_batch_takes_the_quota_of_its_sms_in_order(office, published, phone, sms_folder):
    """The batch counts its SMS in one round trip to Redis, as one by one would: the third to the
    number is over the quota, the SMS of a message cancelled for another reason is not counted."""
    for n in range(3):
        book(office, published, phone=phone, document_number=f"SMSB{n}", email=f"b{n}@example.org", hours=48 + n)
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    assert sending.send_many(notification_ids=ids, now=NOW) == {Status.SENT: 5, Status.CANCELLED: 1}
    sms = Notification.objects.filter(channel="sms").order_by("pk")
    assert list(sms.values_list("status", flat=True)) == [Status.SENT, Status.SENT, Status.CANCELLED]
    assert sms.last().last_error == services.OVER_SMS_QUOTA
    assert len(sms_files(sms_folder)) == 2
    assert services.sms_quota_left(phone, NOW) == 0


def test_sms_given_back_by_a_slow_batch_give_their_quota_back(office, phone, sms_folder, monkeypatch):
    ids = [
        services.notify_person(
            kind=Notification.Kind.PHONE_CODE, office=office, phone=phone, language="es", details={"code": "1"}, now=NOW
        ).pk
        for _ in range(2)
    ]
    clock = iter([0.0, 1.0, sending.BATCH_SECONDS + 1])  # the second is handed on
    monkeypatch.setattr(sending, "batch_clock", lambda: next(clock))
    monkeypatch.setattr(sending, "enqueue", len)
    assert sending.send_many(notification_ids=ids, now=NOW) == {Status.SENT: 1, "handed on": 1}
    assert services.sms_quota_left(phone, NOW, budget=services.CODES) == 1
    monkeypatch.undo()
    assert sending.send(notification_id=ids[1], now=NOW) == Status.SENT
    assert services.sms_quota_left(phone, NOW, budget=services.CODES) == 0
    assert services.sms_quota_left(phone, NOW) == 2  # codes: their own budget
