"""What mail, calendar and SMS programs read in our messages: each message is sent through a real
SMTP server (aiosmtpd), parsed by Python's e-mail parser and its calendar by icalendar."""

import email
import email.policy
import re
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from appointments.services.changes import cancel_appointment, move_appointment
from notifications import sending
from notifications.models import Notification
from notifications.sms import is_gsm7
from tests.appointments.conftest import NOW
from tests.notifications.conftest import book, slot_after, sms_files

pytestmark = pytest.mark.django_db


def send_mail(appointment, kind: str, smtp_server) -> bytes:
    """Send the appointment's e-mail of this kind and return it as the mail server received it."""
    notification = Notification.objects.get(appointment=appointment, kind=kind, channel="email")
    assert sending.send(notification_id=notification.pk, now=NOW) == "sent"
    return smtp_server.messages[-1].content


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def calendar_part(message: EmailMessage) -> EmailMessage:
    (part,) = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    return part


def parse_calendar(part: EmailMessage) -> Calendar:
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert calendar.errors == []
    return calendar


def raw_headers(raw: bytes, content_type: str) -> list[str]:
    """The header lines of the parts of this type, unfolded but otherwise as sent (the parser's
    default policy would quietly merge a repeated parameter)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [
        " ".join(f"{name}: {value}".split())
        for part in message.walk()
        if part.get_content_type() == content_type
        for name, value in part.items()
    ]


def test_the_calendar_part_names_its_charset_once(office, published, smtp_server):
    appointment = book(office, published)
    raw = send_mail(appointment, "confirmation", smtp_server)
    (content_type,) = [line for line in raw_headers(raw, "text/calendar") if line.startswith("Content-Type:")]
    assert len(re.findall(r"\bcharset\s*=", content_type, flags=re.IGNORECASE)) == 1, content_type
    part = calendar_part(parse(raw))
    assert part.get_content_charset() == "utf-8"
    assert part.get_filename() == f"cita-{appointment.reference}.ics"
    (event,) = parse_calendar(part).events
    assert event["DTSTART"].dt == appointment.slot.starts_at


@pytest.mark.parametrize("kind", ["confirmation", "cancelled"])
def test_every_mail_says_it_was_sent_automatically(office, published, smtp_server, kind):
    appointment = book(office, published)
    if kind == "cancelled":
        cancel_appointment(appointment_id=appointment.pk, now=NOW)
    message = parse(send_mail(appointment, kind, smtp_server))
    assert message.get_all("Auto-Submitted") == ["auto-generated"]


def test_a_cancellation_cancels_the_event_the_applicant_added(office, published, smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Citas Movilidad <no-reply@citas.example.org>"
    appointment = book(office, published, language="en")
    confirmation = calendar_part(parse(send_mail(appointment, "confirmation", smtp_server)))
    published_calendar = parse_calendar(confirmation)
    (added,) = published_calendar.events
    assert (published_calendar["METHOD"], confirmation.get_param("method"), added["STATUS"]) == (
        "PUBLISH",
        "PUBLISH",
        "CONFIRMED",
    )
    move_appointment(appointment_id=appointment.pk, slot_id=slot_after(office, 72).pk, now=NOW)
    (moved,) = parse_calendar(calendar_part(parse(send_mail(appointment, "moved", smtp_server)))).events
    cancel_appointment(appointment_id=appointment.pk, now=NOW)

    part = calendar_part(parse(send_mail(appointment, "cancelled", smtp_server)))
    calendar = parse_calendar(part)
    (event,) = calendar.events
    # RFC 5546 3.2.5: METHOD:CANCEL with the event's UID, a higher SEQUENCE, its ORGANIZER and
    # STATUS:CANCELLED for the whole event; RFC 6047: the part's method says the same.
    assert (calendar["METHOD"], part.get_param("method"), event["STATUS"]) == ("CANCEL", "CANCEL", "CANCELLED")
    assert event["UID"] == moved["UID"] == added["UID"]
    assert event["SEQUENCE"] > moved["SEQUENCE"] > added["SEQUENCE"]
    assert event["ORGANIZER"] == added["ORGANIZER"] == "mailto:no-reply@citas.example.org"
    assert event["ORGANIZER"].params["CN"] == "Citas Movilidad"
    assert event["DTSTAMP"].dt >= moved["DTSTAMP"].dt
    assert event["DTSTART"].dt == moved["DTSTART"].dt == slot_after(office, 72).starts_at
    assert str(event["SUMMARY"]).startswith("Cancelled: Appointment at")


@pytest.mark.parametrize(
    ("language", "when"),
    [("en", "Wed 2 Dec 08:00"), ("es", "mié 2 dic 08:00"), ("ht", "mèk 2 des 08:00")],
)
def test_the_sms_date_names_the_month_in_the_applicant_s_language(office, published, sms_folder, language, when):
    # Wednesday 2 December, 08:00 in Bogotá: as 2/12 a reader in the United States reads 12 February.
    appointment = book(office, published, email="", language=language, hours=9 * 24)
    assert appointment.slot.starts_at.astimezone(office.zone).isoformat() == "2026-12-02T08:00:00-05:00"
    sending.send(notification_id=Notification.objects.get(appointment=appointment).pk, now=NOW)
    (text,) = sms_files(sms_folder)
    body = text.split("\n\n", 1)[1].strip()
    assert f" {when}" in body, body
    assert "2/12" not in body
    assert is_gsm7(body)  # é is in the GSM alphabet: "mié" is sent as written


@pytest.mark.parametrize("language", ["en", "es", "ht"])
def test_book_again_leads_to_the_questions_in_the_applicant_s_language(
    office, published, smtp_server, sms_folder, client, language
):
    appointment = book(office, published, language=language)
    cancel_appointment(appointment_id=appointment.pk, now=NOW)
    questions = f"https://citas.example.org/{language}/questions/"
    message = parse(send_mail(appointment, "cancelled", smtp_server))
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert re.findall(r"https?://\S+", text) == [questions]
    assert re.findall(r'href="([^"]+)"', html) == [questions]
    sending.send(notification_id=Notification.objects.get(kind="cancelled", channel="sms").pk, now=NOW)
    (sms,) = sms_files(sms_folder)
    assert sms.rstrip().endswith(f" {questions}")
    # The link starts the questions (their first page), in that language.
    response = client.get(urlsplit(questions).path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/{language}/questions/")
    assert response["Location"] != f"/{language}/questions/"
