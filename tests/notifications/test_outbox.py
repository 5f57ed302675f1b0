"""The outbox rules, each with its exact outcome (PostgreSQL, explicit "now", no sleeping)."""

import base64
import datetime
import email
import smtplib
from email.message import Message

import pytest
from django.db import IntegrityError, transaction

from appointments.errors import BookingError
from appointments.links import manage_token
from appointments.models import Appointment, Slot
from appointments.services.changes import cancel_appointment, move_appointment
from notifications import sending, services
from notifications.models import Notification
from notifications.sms import GSM7_SINGLE_PART, is_gsm7
from tests.appointments.conftest import NOW
from tests.notifications.conftest import book, slot_after, sms_files

pytestmark = pytest.mark.django_db
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status


def rows(appointment, **filters):
    return sorted(
        Notification.objects.filter(appointment=appointment, **filters).values_list("kind", "channel", "status"),
    )


def send_all(now=NOW):
    return [
        sending.send(notification_id=pk, now=now)
        for pk in Notification.objects.order_by("pk").values_list("pk", flat=True)
    ]


def test_a_booking_writes_its_messages_in_its_own_transaction(office, published):
    appointment = book(office, published)
    assert rows(appointment) == [("confirmation", "email", "pending"), ("confirmation", "sms", "pending")]
    sms = Notification.objects.get(appointment=appointment, channel="sms")
    assert (sms.recipient, sms.language, sms.appointment_time, sms.due_at) == (
        "+573001234567",
        "es",
        appointment.slot.starts_at,
        NOW,
    )
    # A booking refused (same document) writes nothing.
    with pytest.raises(BookingError):
        book(office, published, hours=72)
    assert Notification.objects.count() == 2


def test_no_e_mail_means_an_sms_only(office, published):
    appointment = book(office, published, email="")
    assert rows(appointment) == [("confirmation", "sms", "pending")]


def test_one_message_per_appointment_kind_channel_and_time(office, published):
    appointment = book(office, published)
    again = services.notify(appointment=appointment, kind=Kind.CONFIRMATION, now=NOW)
    assert again == []  # still pending: nothing more to send
    copy = Notification.objects.filter(appointment=appointment).first()
    copy.pk = None
    with pytest.raises(IntegrityError, match="notifications_once_per_time"), transaction.atomic():
        copy.save()


def test_moving_back_to_a_time_told_of_before_tells_again_once(office, published, sms_folder):
    appointment = book(office, published, email="")
    first, second = slot_after(office, 48), slot_after(office, 72)
    for slot in (second, first, second):
        move_appointment(appointment_id=appointment.pk, slot_id=slot.pk, now=NOW)
        send_all()
    moved = Notification.objects.filter(appointment=appointment, kind="moved")
    assert sorted(moved.values_list("appointment_time", "status")) == sorted(
        [(first.starts_at, "sent"), (second.starts_at, "sent")]
    )
    texts = [text for text in sms_files(sms_folder) if "cambiada" in text]
    assert len(texts) == 3  # one per move, the row for the repeated time sent again


def test_sending_twice_sends_once(office, published, sms_folder):
    appointment = book(office, published, email="")
    sms = Notification.objects.get(appointment=appointment)
    assert sending.send(notification_id=sms.pk, now=NOW) == "sent"
    assert sending.send(notification_id=sms.pk, now=NOW) == "skipped"
    assert len(sms_files(sms_folder)) == 1
    sms.refresh_from_db()
    assert (sms.status, sms.attempts, sms.sent_at is not None, bool(sms.provider_message_id)) == ("sent", 1, True, True)


@pytest.mark.parametrize(
    ("language", "words"),
    [("es", ["Cita", "reservada", "oficina Bogota", "Es gratis"]), ("en", ["Appointment", "booked", "Bogota office"])],
)
def test_the_sms_is_short_in_the_applicant_s_language_with_the_office_s_time(
    office, published, sms_folder, language, words
):
    appointment = book(office, published, email="", language=language, document_number="P99887766")
    sending.send(notification_id=Notification.objects.get().pk, now=NOW)
    (text,) = sms_files(sms_folder)
    body = text.split("\n\n", 1)[1].strip()
    local = appointment.slot.starts_at.astimezone(office.zone)
    assert f" {local.day} " in body
    assert f" {local:%H:%M}" in body
    assert appointment.display_reference in body
    assert f"https://citas.example.org/m/{manage_token(appointment)}" in body
    assert all(word in body for word in words), body
    assert "P99887766" not in body
    assert "María" not in body
    assert is_gsm7(body)
    assert len(body) <= GSM7_SINGLE_PART


def test_the_longest_sms_still_fits_one_part(office, published, sms_folder):
    office.city = "Ciudad de Guatemala"
    office.save()
    Appointment.objects.all().delete()
    Notification.objects.all().delete()
    for language in ("es", "en"):
        appointment = book(office, published, email="", language=language, document_number=f"LONG{language}")
        Appointment.objects.filter(pk=appointment.pk).update(revision=99)  # a long link
        appointment.refresh_from_db()
        for kind in Kind.values:
            notification = Notification(appointment=appointment, kind=kind, channel="sms", language=language)
            text = sending.render(notification).sms
            assert len(text) <= GSM7_SINGLE_PART, (language, kind, len(text), text)
            assert is_gsm7(text), text


def parse(envelope) -> Message:
    return email.message_from_bytes(envelope.content)


def test_the_e_mail_has_text_html_and_calendar_in_the_applicant_s_language(office, published, smtp_server):
    appointment = book(office, published, language="en")
    (pk,) = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    assert sending.send(notification_id=pk, now=NOW) == "sent"
    (envelope,) = smtp_server.messages
    assert envelope.rcpt_tos == ["ana@example.org"]
    message = parse(envelope)
    assert appointment.display_reference in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    text = parts["text/plain"].get_payload(decode=True).decode()
    html = parts["text/html"].get_payload(decode=True).decode()
    local = appointment.slot.starts_at.astimezone(office.zone)
    for body in (text, html):
        assert "Your appointment is booked." in body
        assert f"{local:%H:%M}" in body
        assert office.address_en in body
        assert manage_token(appointment) in body
        assert "P1234567" not in body
    assert "Bring" in text or "What to bring" in text
    ics = parts["text/calendar"].get_payload(decode=True).decode()
    assert "BEGIN:VEVENT" in ics
    assert local.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ") in ics
    assert Notification.objects.get(pk=pk).provider_message_id == message["Message-ID"]


def test_cancelling_tells_the_applicant_and_drops_pending_reminders(office, published):
    appointment = book(office, published, hours=20)  # already inside the 24-hour window
    services.schedule_reminders(now=NOW)
    assert rows(appointment, kind="reminder") == [("reminder", "email", "pending"), ("reminder", "sms", "pending")]
    cancel_appointment(appointment_id=appointment.pk, now=NOW)
    assert rows(appointment, kind="reminder") == [("reminder", "email", "cancelled"), ("reminder", "sms", "cancelled")]
    assert rows(appointment, kind="cancelled") == [("cancelled", "email", "pending"), ("cancelled", "sms", "pending")]
    services.schedule_reminders(now=NOW + datetime.timedelta(hours=1))
    assert rows(appointment, kind="reminder", status="pending") == []


def test_moving_replaces_the_reminder_with_one_for_the_new_time(office, published):
    office.reminder_hours = 48
    office.save()
    appointment = book(office, published, hours=30, email="")  # Wednesday 08:00, inside 48 hours
    old_time = appointment.slot.starts_at
    services.schedule_reminders(now=NOW)
    new = slot_after(office, 24)  # Tuesday 08:00
    assert new.starts_at != old_time
    move_appointment(appointment_id=appointment.pk, slot_id=new.pk, now=NOW)
    reminders = Notification.objects.filter(appointment=appointment, kind="reminder")
    assert sorted(reminders.values_list("appointment_time", "status")) == sorted(
        [(old_time, "cancelled"), (new.starts_at, "pending")]
    )
    assert rows(appointment, kind="moved") == [("moved", "sms", "pending")]
    services.schedule_reminders(now=NOW + datetime.timedelta(minutes=1))
    assert reminders.filter(status="pending").count() == 1


def test_reminder_window_edges(office, published):
    appointment = book(office, published, email="")
    starts = appointment.slot.starts_at
    day = datetime.timedelta(hours=24)
    assert services.schedule_reminders(now=starts - day - datetime.timedelta(seconds=1)) == 0
    assert services.schedule_reminders(now=starts - day) == 1
    assert services.schedule_reminders(now=starts - day + datetime.timedelta(minutes=1)) == 0  # already written
    assert services.schedule_reminders(now=starts - datetime.timedelta(hours=2, seconds=1)) == 0
    assert services.schedule_reminders(now=starts - datetime.timedelta(hours=2)) == 1  # the last reminder
    assert services.schedule_reminders(now=starts) == 0  # the appointment is starting: nothing more
    assert rows(appointment, channel="sms") == [
        ("confirmation", "sms", "pending"),
        ("last_reminder", "sms", "pending"),
        ("reminder", "sms", "pending"),
    ]


def test_a_reminder_for_a_time_that_changed_is_not_sent(office, published, sms_folder):
    appointment = book(office, published, hours=20, email="")
    services.schedule_reminders(now=NOW)
    reminder = Notification.objects.get(kind="reminder")
    # The appointment changed without the reminder being cancelled (a path that forgot it).
    Slot.objects.filter(pk=appointment.slot_id).update(
        starts_at=appointment.slot.starts_at + datetime.timedelta(minutes=5)
    )
    assert sending.send(notification_id=reminder.pk, now=NOW) == "cancelled"
    assert sms_files(sms_folder) == []


def refusing(code: int, text: bytes = b"try later"):
    def send(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"ana@example.org": (code, text)})

    return send


def test_a_temporary_mail_refusal_is_retried_then_delivered(office, published, smtp_server):
    book(office, published)
    (pk,) = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    smtp_server.refuse = ["451 4.7.1 Try again later"]
    assert sending.send(notification_id=pk, now=NOW) == "pending"
    notification = Notification.objects.get(pk=pk)
    assert (notification.attempts, notification.due_at) == (1, NOW + datetime.timedelta(minutes=1))
    assert "451" in notification.last_error
    assert sending.send(notification_id=pk, now=NOW) == "skipped"  # not due yet
    assert sending.send(notification_id=pk, now=NOW + datetime.timedelta(minutes=1)) == "sent"
    assert len(smtp_server.messages) == 1


def test_a_permanent_mail_refusal_fails_with_the_reason(office, published, smtp_server):
    book(office, published)
    (pk,) = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    smtp_server.refuse = ["550 5.1.1 No such user"]
    assert sending.send(notification_id=pk, now=NOW) == "failed"
    assert "550" in Notification.objects.get(pk=pk).last_error
    assert smtp_server.messages == []


def test_retries_stop_at_the_ceiling(office, published, smtp_server, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    book(office, published)
    (pk,) = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    smtp_server.refuse = ["421 busy"] * 3
    now = NOW
    outcomes = []
    for _ in range(3):
        outcomes.append(sending.send(notification_id=pk, now=now))
        now = Notification.objects.get(pk=pk).due_at
    assert outcomes == ["pending", "pending", "failed"]
    assert Notification.objects.get(pk=pk).last_error.startswith("gave up after 3 attempts")


def test_an_invalid_address_stored_earlier_fails_alone(office, published, smtp_server, sms_folder):
    appointment = book(office, published)
    Appointment.objects.filter(pk=appointment.pk).update(email="not an address\n")
    Notification.objects.filter(channel="email").update(recipient="not an address\nBcc: x@y")
    outcomes = dict(zip(["email", "sms"], [None, None], strict=True))
    for notification in Notification.objects.all():
        outcomes[notification.channel] = sending.send(notification_id=notification.pk, now=NOW)
    assert outcomes == {"email": "failed", "sms": "sent"}
    assert "invalid address" in Notification.objects.get(channel="email").last_error
    assert len(sms_files(sms_folder)) == 1


def test_the_sms_provider_gets_the_message_and_its_errors_are_told_apart(office, published, sms_provider):
    first = book(office, published, email="")
    second = book(office, published, email="", document_number="X2", hours=72)
    third = book(office, published, email="", document_number="X3", hours=96)
    sms_provider.replies = [
        (200, {"id": "prov-123"}),
        (400, {"error": "invalid destination number"}),
        (503, {"error": "maintenance"}),
    ]
    ids = [Notification.objects.get(appointment=a).pk for a in (first, second, third)]
    assert [sending.send(notification_id=pk, now=NOW) for pk in ids] == ["sent", "failed", "pending"]
    request = sms_provider.requests[0]
    assert request["json"]["to"] == "+573001234567"
    assert request["json"]["from"] == "Movilidad"
    assert first.display_reference in request["json"]["text"]
    assert request["headers"]["Authorization"] == "Basic " + base64.b64encode(b"acct:s3cret").decode()
    assert Notification.objects.get(pk=ids[0]).provider_message_id == "prov-123"
    assert "invalid destination number" in Notification.objects.get(pk=ids[1]).last_error
    assert Notification.objects.get(pk=ids[2]).status == "pending"


def test_dispatch_recovers_stuck_messages_and_enqueues_forgotten_ones(office, published, settings, monkeypatch):
    book(office, published)
    email_row, sms_row = Notification.objects.order_by("channel")
    Notification.objects.filter(pk=email_row.pk).update(
        status="sending", claimed_at=NOW - datetime.timedelta(minutes=11), attempts=1
    )
    Notification.objects.filter(pk=sms_row.pk).update(enqueued_at=NOW - datetime.timedelta(seconds=10))
    enqueued = []
    monkeypatch.setattr(services, "enqueue", lambda ids: enqueued.extend(ids) or len(ids))
    # The e-mail's worker died; the SMS was handed to the broker ten seconds ago.
    assert services.dispatch(now=NOW) == {"recovered": 1, "failed": 0, "enqueued": 1}
    assert enqueued == [email_row.pk]
    # Handed over more than five minutes ago and still pending: lost, enqueued again.
    Notification.objects.filter(pk=sms_row.pk).update(enqueued_at=NOW - datetime.timedelta(minutes=6))
    enqueued.clear()
    services.dispatch(now=NOW)
    assert sorted(enqueued) == sorted([email_row.pk, sms_row.pk])


def test_a_message_that_keeps_killing_its_worker_ends_failed(office, published, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    book(office, published, email="")
    Notification.objects.update(status="sending", claimed_at=NOW - datetime.timedelta(hours=1), attempts=3)
    assert services.dispatch(now=NOW)["failed"] == 1
    assert Notification.objects.get().status == "failed"


def test_send_again_puts_a_failed_message_back(office, published, sms_folder):
    book(office, published, email="")
    notification = Notification.objects.get()
    Notification.objects.filter(pk=notification.pk).update(status="failed", attempts=8, last_error="boom")
    assert services.resend(notification_id=notification.pk) is True
    assert services.resend(notification_id=notification.pk) is False  # only failed ones
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("pending", 0, "")
    assert sending.send(notification_id=notification.pk) == "sent"
    assert len(sms_files(sms_folder)) == 1


def test_moving_away_and_back_brings_the_reminder_back(office, published, sms_folder):
    office.reminder_hours = 48
    office.save()
    appointment = book(office, published, hours=30, email="")
    here, elsewhere = appointment.slot, slot_after(office, 24)
    services.schedule_reminders(now=NOW)
    move_appointment(appointment_id=appointment.pk, slot_id=elsewhere.pk, now=NOW)
    move_appointment(appointment_id=appointment.pk, slot_id=here.pk, now=NOW)
    reminders = Notification.objects.filter(appointment=appointment, kind="reminder")
    assert sorted(reminders.values_list("appointment_time", "status")) == sorted(
        [(here.starts_at, "pending"), (elsewhere.starts_at, "cancelled")]
    )


def test_news_of_a_time_that_no_longer_holds_is_not_sent(office, published, sms_provider):
    appointment = book(office, published, email="")
    confirmation = Notification.objects.get(kind="confirmation")
    sms_provider.replies = [(503, {"error": "maintenance"})]
    assert sending.send(notification_id=confirmation.pk, now=NOW) == "pending"  # to be retried
    cancel_appointment(appointment_id=appointment.pk, now=NOW)
    later = NOW + datetime.timedelta(minutes=5)
    assert sending.send(notification_id=confirmation.pk, now=later) == "cancelled"
    cancelled_sms = Notification.objects.get(kind="cancelled")
    assert sending.send(notification_id=cancelled_sms.pk, now=later) == "sent"
    # The provider saw the failed confirmation attempt and then only the cancellation.
    assert len(sms_provider.requests) == 2
    last = sms_provider.requests[1]["json"]["text"]
    assert last.startswith(f"Cita {appointment.display_reference} del ")
    assert "cancelada" in last


def test_a_reminder_still_failing_when_the_time_has_come_is_dropped(office, published, sms_folder):
    appointment = book(office, published, hours=20, email="")
    services.schedule_reminders(now=NOW)
    reminder = Notification.objects.get(kind="reminder")
    Notification.objects.filter(pk=reminder.pk).update(attempts=2, due_at=appointment.slot.starts_at)
    assert sending.send(notification_id=reminder.pk, now=appointment.slot.starts_at) == "cancelled"
    assert sms_files(sms_folder) == []


def test_two_reminders_never_arrive_together(office, published):
    office.min_notice_hours = 0
    office.save()
    appointment = book(office, published, hours=0.5, email="")  # an hour or so ahead
    assert appointment.slot.starts_at - NOW <= datetime.timedelta(hours=2)
    services.schedule_reminders(now=NOW)
    assert rows(appointment, kind__in=["reminder", "last_reminder"]) == [("last_reminder", "sms", "pending")]


def test_an_accepted_sms_is_never_retried_even_without_an_id(office, published, sms_provider):
    book(office, published, email="")
    notification = Notification.objects.get()
    sms_provider.replies = [(202, {})]
    assert sending.send(notification_id=notification.pk, now=NOW) == "sent"
    assert len(sms_provider.requests) == 1
    assert sms_provider.requests[0]["json"]["reference"] == sending.sms_reference(notification)
    assert Notification.objects.get().provider_message_id == sending.sms_reference(notification)


def test_texts_are_not_html_escaped(office, published, sms_folder, smtp_server):
    office.city = "L'Aurora & Co"
    office.name = "Oficina L'Aurora & Co"
    office.save()
    book(office, published)
    send_all()
    (sms,) = sms_files(sms_folder)
    assert "L'Aurora & Co" in sms
    assert "&amp;" not in sms
    assert "&#x27;" not in sms
    (envelope,) = smtp_server.messages
    message = email.message_from_bytes(envelope.content)
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Oficina L'Aurora & Co" in text


def test_a_very_long_sms_takes_the_short_wording(office, published, settings):
    settings.SITE_URL = "https://citas.oficinas-de-movilidad-segura.example.org"
    office.city = "Santo Domingo de los Tsáchilas"
    office.save()
    appointment = book(office, published, email="")
    Appointment.objects.filter(pk=appointment.pk).update(revision=123)
    appointment.refresh_from_db()
    appointment.pk = 9_999_999  # a long link, as after millions of bookings
    for language in ("es", "en"):
        for kind in Kind.values:
            notification = Notification(appointment=appointment, kind=kind, channel="sms", language=language)
            text = sending.render(notification).sms
            assert len(text) <= GSM7_SINGLE_PART, (language, kind, len(text), text)
            assert appointment.display_reference in text
            if kind == Kind.CONFIRMATION:
                assert "Tsachilas" not in text  # the full wording would not fit: the short one


def test_a_mail_server_refusing_our_credentials_is_retried_not_failed(office, published, settings):
    settings.EMAIL_BACKEND = "tests.notifications.fake_backends.AuthRefusedEmailBackend"
    book(office, published)
    mail = Notification.objects.get(channel="email")
    assert sending.send(notification_id=mail.pk, now=NOW) == "pending"
    assert "SMTP 535" in Notification.objects.get(pk=mail.pk).last_error


def test_a_day_reminder_still_retrying_when_the_last_one_is_due_is_dropped(office, published, sms_folder):
    appointment = book(office, published, hours=20, email="")
    services.schedule_reminders(now=NOW)
    reminder = Notification.objects.get(kind="reminder")
    inside_last = appointment.slot.starts_at - datetime.timedelta(hours=1)
    Notification.objects.filter(pk=reminder.pk).update(due_at=inside_last, attempts=3)
    assert sending.send(notification_id=reminder.pk, now=inside_last) == "cancelled"
    assert "last reminder" in Notification.objects.get(pk=reminder.pk).last_error


def test_a_re_sent_row_gets_a_new_provider_reference(office, published, sms_provider):
    book(office, published, email="")
    notification = Notification.objects.get()
    sending.send(notification_id=notification.pk, now=NOW)
    Notification.objects.filter(pk=notification.pk).update(status="failed")
    assert services.resend(notification_id=notification.pk)  # queued again, now
    assert sending.send(notification_id=notification.pk) == "sent"
    first, second = (request["json"]["reference"] for request in sms_provider.requests)
    assert first != second
    assert first.startswith(f"movilidad-{notification.pk}-")


def test_sms_length_counts_what_the_network_counts():
    from notifications.sms import gsm7_length, to_gsm7

    assert [gsm7_length(text) for text in ("abc", "a€b", "[x]", "Łódź")] == [3, 4, 5, 10]  # the last in UCS-2
    assert [to_gsm7(text) for text in ("Łódź", "ñandú", "Ibagué", "Bogotá")] == ["?odz", "ñandu", "Ibagué", "Bogota"]


def test_the_send_task_is_cut_before_it_could_be_handed_out_again(settings):
    from notifications.tasks import send_notification

    assert send_notification.time_limit < settings.NOTIFICATION_SENDING_TIMEOUT
    assert send_notification.soft_time_limit < send_notification.time_limit
    assert send_notification.acks_late is True
    assert send_notification.reject_on_worker_lost is True


def test_the_last_reminder_comes_after_the_first(office):
    from django.core.exceptions import ValidationError
    from django.utils import translation

    office.last_reminder_hours = 30
    with translation.override("en"), pytest.raises(ValidationError, match="closer to the appointment"):
        office.full_clean()


def test_retries_stop_when_the_message_is_too_old(office, published, smtp_server, settings):
    settings.NOTIFICATION_MAX_AGE_HOURS = 24
    book(office, published)
    (pk,) = Notification.objects.filter(channel="email").values_list("pk", flat=True)
    Notification.objects.filter(pk=pk).update(queued_at=NOW - datetime.timedelta(hours=25))
    smtp_server.refuse = ["421 busy"]
    assert sending.send(notification_id=pk, now=NOW) == "failed"
    assert Notification.objects.get(pk=pk).last_error.startswith("gave up after 1 attempts")
