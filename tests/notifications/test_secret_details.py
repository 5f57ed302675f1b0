"""Secrets in a message's details (a link carrying a token, a phone code: Notification's
SECRET_DETAILS) are kept only while the message may still be sent: once it is sent, cancelled or
failed for good they are removed, the rest of the details kept. A message whose secrets are gone is
not sent again (there is nothing to send)."""

import datetime

import pytest

from notifications import sending, services
from notifications.models import SECRET_DETAILS, SECRETS_ERASED, Notification
from tests.appointments.conftest import NOW
from tests.notifications.conftest import sms_files

pytestmark = pytest.mark.django_db
Kind, Status = Notification.Kind, Notification.Status
TOKEN = "s3cr3t-t0ken-kept-only-as-a-hash"


def offer(office, **details) -> Notification:
    return services.notify_person(
        kind=Kind.WAITLIST,
        office=office,
        phone="+573001234567",
        language="es",
        details={
            "event": "offer",
            "when": "lun 7 dic 09:00",
            "until": "09:30",
            "url": f"https://citas.example.org/w/{TOKEN}/",
            **details,
        },
        now=NOW,
    )


def details_of(message: Notification) -> dict:
    return Notification.objects.get(pk=message.pk).details


def test_the_rule_names_the_link_and_the_code():
    assert set(SECRET_DETAILS) == {"url", "code"}


def test_a_sent_offer_keeps_no_token(office, sms_folder):
    message = offer(office)
    assert TOKEN in str(details_of(message))  # needed until it is sent
    assert sending.send(notification_id=message.pk, now=NOW) == Status.SENT
    [text] = sms_files(sms_folder)
    assert TOKEN in text
    assert details_of(message) == {"event": "offer", "when": "lun 7 dic 09:00", "until": "09:30", SECRETS_ERASED: True}


def test_a_sent_phone_code_keeps_no_code(office, sms_folder):
    message = services.notify_person(
        kind=Kind.PHONE_CODE, office=office, phone="+573001234567", language="es",
        details={"code": "042917", "minutes": 10}, now=NOW,
    )  # fmt: skip
    assert sending.send(notification_id=message.pk, now=NOW) == Status.SENT
    assert details_of(message) == {"minutes": 10, SECRETS_ERASED: True}


def test_an_offer_cancelled_before_it_was_sent_keeps_no_token(office, sms_folder):
    message = offer(office, expires_at=(NOW - datetime.timedelta(minutes=1)).isoformat())
    assert sending.send(notification_id=message.pk, now=NOW) == Status.CANCELLED
    assert sms_files(sms_folder) == []
    assert TOKEN not in str(details_of(message))


def test_a_retried_offer_keeps_its_token_until_it_fails_for_good(office, sms_provider, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    sms_provider.replies = [(503, {"error": "busy"}), (503, {"error": "busy"})]
    message = offer(office)
    assert sending.send(notification_id=message.pk, now=NOW) == Status.PENDING
    assert TOKEN in str(details_of(message))  # the retry needs it
    later = NOW + datetime.timedelta(minutes=5)
    assert sending.send(notification_id=message.pk, now=later) == Status.FAILED
    assert TOKEN not in str(details_of(message))
    assert details_of(message)[SECRETS_ERASED] is True


def test_a_permanently_refused_offer_keeps_no_token(office, sms_provider):
    sms_provider.replies = [(400, {"error": "invalid destination number"})]
    message = offer(office)
    assert sending.send(notification_id=message.pk, now=NOW) == Status.FAILED
    assert TOKEN not in str(details_of(message))


def test_an_offer_given_up_by_the_dispatcher_keeps_no_token(office, settings, monkeypatch):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    monkeypatch.setattr(services, "enqueue", len)
    message = offer(office)
    Notification.objects.filter(pk=message.pk).update(
        status=Status.SENDING, claimed_at=NOW - datetime.timedelta(hours=1), attempts=3
    )
    assert services.dispatch(now=NOW)["failed"] == 1
    assert TOKEN not in str(details_of(message))


def test_a_stuck_offer_the_dispatcher_retries_keeps_its_token(office, monkeypatch):
    monkeypatch.setattr(services, "enqueue", len)
    message = offer(office)
    Notification.objects.filter(pk=message.pk).update(
        status=Status.SENDING, claimed_at=NOW - datetime.timedelta(hours=1), attempts=1
    )
    assert services.dispatch(now=NOW)["recovered"] == 1
    assert TOKEN in str(details_of(message))


def test_a_failed_offer_sent_again_is_cancelled_not_sent_without_its_link(office, sms_provider, sms_folder, settings):
    sms_provider.replies = [(400, {"error": "invalid destination number"})]
    message = offer(office)
    assert sending.send(notification_id=message.pk, now=NOW) == Status.FAILED
    assert services.resend(notification_id=message.pk) is True
    assert sending.send(notification_id=message.pk) == Status.CANCELLED
    assert len(sms_provider.requests) == 1
    assert "erased" in Notification.objects.get(pk=message.pk).last_error
