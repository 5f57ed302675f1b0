"""Messages to a person who has no appointment yet (a phone code, waitlist or lottery news):
written for an office, sent by the same outbox, seen by that office's staff only, erased by
retention."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.test import Client

from notifications import sending, services
from notifications.models import Notification
from retention.services import run_retention
from tests.appointments.conftest import NOW, OfficeFactory
from tests.conftest import sign_in
from tests.notifications.conftest import sms_files

pytestmark = pytest.mark.django_db
Kind, Status = Notification.Kind, Notification.Status


def code_message(office, **details):
    return services.notify_person(
        kind=Kind.PHONE_CODE,
        office=office,
        phone="+573001234567",
        language="es",
        details={"code": "042917", "minutes": 10, **details},
        now=NOW,
    )


def test_a_person_message_is_sent_in_the_person_s_language(office, sms_folder):
    message = code_message(office)
    assert sending.send(notification_id=message.pk, now=NOW) == Status.SENT
    [text] = sms_files(sms_folder)
    assert "+573001234567" in text
    assert "042917" in text
    assert "Nunca lo comparta" in text
    # Sent once, even if the task comes twice.
    assert sending.send(notification_id=message.pk, now=NOW) == "skipped"
    assert len(sms_files(sms_folder)) == 1


def test_an_offer_that_expired_before_sending_is_not_sent(office, sms_folder):
    message = code_message(office, expires_at=(NOW - datetime.timedelta(seconds=1)).isoformat())
    assert sending.send(notification_id=message.pk, now=NOW) == Status.CANCELLED
    assert sms_files(sms_folder) == []


def test_a_message_belongs_to_an_appointment_or_an_office(office):
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(kind=Kind.PHONE_CODE, channel="sms", recipient="+1", language="es", due_at=NOW)


def test_staff_see_the_person_messages_of_their_office_only(office):
    other = OfficeFactory(name="Oficina Cali", city="Cali")
    mine, theirs = code_message(office), code_message(other)
    user = get_user_model().objects.create_user(username="desk", password="x" * 16, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_notification"))
    office.staff.add(user)
    client = sign_in(Client(headers={"accept-language": "en"}), user)
    assert client.get(f"/admin/notifications/notification/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/notifications/notification/{theirs.pk}/change/").status_code == 404
    listing = client.get("/admin/notifications/notification/", {"office": str(office.pk)})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [mine]
    assert client.get("/admin/notifications/notification/", {"office": "１"}).status_code == 200


def test_retention_erases_who_a_person_message_went_to(office, settings):
    old, recent = code_message(office), code_message(office)
    Notification.objects.filter(pk=old.pk).update(
        created_at=NOW - datetime.timedelta(days=settings.SCREENING_RETENTION_DAYS + 1)
    )
    Notification.objects.filter(pk=recent.pk).update(created_at=NOW)
    assert run_retention(now=NOW)["person_messages"] == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.recipient, old.details, old.status) == ("", {}, Status.CANCELLED)
    assert recent.recipient == "+573001234567"
    assert run_retention(now=NOW).get("person_messages", 0) == 0
