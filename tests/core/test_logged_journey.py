"""Issue 12: a whole journey with every logger at DEBUG, and no log line holds a typed personal value
or a token.

The journey: the questions, a booking for two people, the messages sent by the outbox (through a
provider that fails in the ways real ones do and echoes what it was sent), the SMS's short link,
the appointment moved through the manage pages, the old link tried again, and staff finding the
person by their document number, checking them in and calling them, with the calling screen open.
Every request is also written as gunicorn's access line (gunicorn.conf.py's format) and as
runserver's, as production and `make run` write them. What is checked is what the project's
handler writes, after its filter and formatter."""

import datetime
import io
import logging
import re
import runpy
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client
from django.utils import timezone

from appointments.links import manage_token
from appointments.models import Appointment, Hold, Slot
from core.logging import RedactPersonalData
from core.services import ROLE_OFFICE_STAFF, ensure_roles
from desk.models import Counter, DeskSettings
from desk.services import day_bounds
from notifications.models import Notification
from notifications.sms import SmsError
from notifications.tasks import send_notification
from tests.conftest import sign_in
from tests.desk.conftest import make_office
from tests.eligibility.test_flow import GUATEMALAN_WITH_PETITION, Q, answer_all

pytestmark = pytest.mark.django_db

NAME, COMPANION = "Xiomara Batz Cojtí", "Ixchel Batz"
DOCUMENT = "P-123 456 789"  # stored as P123456789
PHONE = "5512 3456"  # a Guatemalan mobile, stored as +50255123456
EMAIL = "xiomara.batz@example.org"
PERSONAL = [
    "Xiomara",
    "Batz",
    "Cojtí",
    "Ixchel",
    DOCUMENT,
    "P123456789",
    "123456789",
    "123 456 789",
    PHONE,
    "5512-3456",
    "55123456",
    "+50255123456",
    "+502 5512 3456",
    "+502 5512-3456",
    EMAIL,
    "xiomara.batz",
    "1990-05-17",
    "17/5/1990",
    "17/05/1990",
]
ACCESS_FORMAT = runpy.run_path(str(settings.BASE_DIR / "gunicorn.conf.py"))["access_log_format"]
SECRETS: set[str] = set()  # tokens seen during the journey: none may reach a log


class LoggedClient(Client):
    """A browser whose every request is also written as an access line, and whose cookies (the
    session key, the CSRF token) are remembered as secrets."""

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        path, query, method = request["PATH_INFO"], request.get("QUERY_STRING", ""), request["REQUEST_METHOD"]
        size = 0 if response.streaming else len(response.content)
        atoms = {"t": "[01/Dec/2026:10:00:00 +0000]", "m": method, "U": path, "s": response.status_code}
        logging.getLogger("gunicorn.access").info(ACCESS_FORMAT, {**atoms, "B": size, "D": 12_345_678})
        line = f"{method} {path}{'?' + query if query else ''} HTTP/1.1"
        logging.getLogger("django.server").info('"%s" %s %s', line, response.status_code, size)
        SECRETS.update(morsel.value for morsel in self.cookies.values() if len(morsel.value) >= 16)
        return response


class EchoingSmsBackend:
    """A provider that first drops the connection (an unexpected error naming the number), then
    refuses with an answer that echoes the number as the person wrote it, then takes messages."""

    calls = 0

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        EchoingSmsBackend.calls += 1
        if EchoingSmsBackend.calls == 1:
            raise ConnectionResetError(f"connection reset by peer while sending to {to}")
        if EchoingSmsBackend.calls == 2:
            raise SmsError(
                f'HTTP 400: {{"error": "destination {PHONE} unreachable", "text": "{text[-40:]}"}}', permanent=True
            )
        SECRETS.update(re.findall(r"/m/([^/\s]+)", text))
        return f"sms-{EchoingSmsBackend.calls}"


class RefusingOnceEmailBackend(EmailBackend):
    """A mail library that cannot encode the first address it is given (its message names it)."""

    refused = False

    def send_messages(self, messages: list) -> int:
        if not RefusingOnceEmailBackend.refused:
            RefusingOnceEmailBackend.refused = True
            raise ValueError(f"Invalid address; address parts cannot contain CR or LF: {messages[0].to[0]}")
        return super().send_messages(messages)


@pytest.fixture
def log_text():
    """Everything the project's log handler writes, with every logger at DEBUG."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactPersonalData) for f in h.filters))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        handler.setStream(previous)
        for logger, level in levels:
            logger.setLevel(level)


@pytest.fixture
def office(published, settings):
    settings.SMS_BACKEND = f"{__name__}.EchoingSmsBackend"
    settings.EMAIL_BACKEND = f"{__name__}.RefusingOnceEmailBackend"
    settings.HOLD_RATE = settings.MANAGE_LOOKUP_RATE = "996/m"  # counts of their own
    EchoingSmsBackend.calls, RefusingOnceEmailBackend.refused = 0, False
    SECRETS.clear()
    office = make_office("Oficina Guatemala", country="GT", city="Guatemala", min_notice_hours=0, verify_phone=True)
    DeskSettings.objects.filter(office=office).update(call_sms=True)
    return office


def later_today(office, *, after: Slot | None = None) -> Slot:
    _start, end = day_bounds(office, office.local_today(timezone.now()))
    free = Slot.objects.filter(office=office, starts_at__gt=timezone.now() + datetime.timedelta(minutes=30))
    free = free.filter(starts_at__lt=end).exclude(pk=getattr(after, "pk", None)).order_by("starts_at")
    return free.first() or pytest.skip("no time left today at the office")


def send_outbox() -> None:
    """The worker's part: every due message, through the real task."""
    for pk in Notification.objects.filter(status="pending").values_list("pk", flat=True):
        Notification.objects.filter(pk=pk).update(due_at=timezone.now())
        send_notification.apply(args=[pk])


def test_no_personal_value_and_no_token_reaches_a_log(office, log_text):
    browser = LoggedClient(headers={"accept-language": "en"})
    # The questions.
    browser.get(Q)
    answer_all(browser, GUATEMALAN_WITH_PETITION)
    browser.post(f"{Q}check/")
    result = browser.get(f"{Q}result/").content.decode()
    booking_link = re.search(r'href="(/en/book/\?screening=[^"]+)"', result)[1].replace("&amp;", "&")
    SECRETS.add(booking_link.split("=", 1)[1])
    # The booking, for two people.
    assert browser.get(booking_link, follow=True).status_code == 200
    slot = later_today(office)
    day_url = f"/en/book/office/{office.slug}/{slot.local_start().date()}/"
    assert browser.post(day_url, {"slot": slot.pk})["Location"] == "/en/book/people/"
    SECRETS.update(str(token) for token in Hold.objects.values_list("token", flat=True))
    browser.post("/en/book/people/", {"party_size": "2"})
    details = {
        "full_name": NAME,
        "document_type": "passport",
        "document_number": DOCUMENT,
        "document_country": "GT",
        "phone": PHONE,
        "email": EMAIL,
        "language": "es",
        "party_size": "2",
        "companion_name_1": COMPANION,
        "companion_age_1": "8",
        "consent": "on",
    }
    assert browser.post("/en/book/details/", details)["Location"] == "/en/book/check/"
    key = re.search(r'name="key" value="([^"]+)"', browser.get("/en/book/check/").content.decode())[1]
    SECRETS.add(key)
    # The code sent by SMS (the office verifies phones): a wrong one, then the right one.
    assert browser.post("/en/book/check/", {"key": key})["Location"] == "/en/book/phone/"
    code = Notification.objects.get(kind="phone_code").details["code"]
    SECRETS.add(code)
    assert browser.post("/en/book/phone/", {"key": key, "code": f"{(int(code) + 1) % 10**6:06d}"}).status_code == 400
    assert browser.post("/en/book/phone/", {"key": key, "code": code})["Location"] == "/en/manage/appointment/"
    appointment = Appointment.objects.get()
    assert (appointment.document_number, appointment.phone.as_e164) == ("P123456789", "+50255123456")
    # The messages: the SMS fails twice (logged), the e-mail once (logged), then they go.
    send_outbox()
    send_outbox()
    # The SMS's short link, then a move through the manage pages.
    browser.post("/en/manage/close/")
    phone = LoggedClient()
    old_token = manage_token(appointment)
    SECRETS.update([old_token, old_token.rsplit("-", 1)[1]])
    assert phone.get(f"/m/{old_token}/", follow=True).status_code == 200
    new_slot = later_today(office, after=slot)
    phone.get("/es/manage/move/")
    phone.post(f"/es/manage/move/{new_slot.local_start().date()}/", {"slot": new_slot.pk})
    response = phone.post("/es/manage/move/confirm/", {"revision": appointment.revision}, follow=True)
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.slot_id == new_slot.pk
    SECRETS.add(manage_token(appointment))
    send_outbox()
    assert len(mail.outbox) >= 1
    # The old links again (void now), and made-up ones.
    assert LoggedClient().get(f"/es/manage/link/{old_token}/").status_code == 400
    assert LoggedClient().get(f"/m/{old_token[:-1]}x/", follow=True).status_code == 400
    # Staff: find the person by the document number as written, check in, call; the screen.
    ensure_roles()
    user = get_user_model().objects.create_user(username="desk", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
    office.staff.add(user)
    staff = LoggedClient(headers={"accept-language": "en"})
    sign_in(staff, user)
    queue = f"/admin/desk/ticket/queue/{office.pk}/"
    assert "Check in" in staff.post(f"{queue}find/", {"q": DOCUMENT}).content.decode()
    staff.get("/admin/appointments/appointment/", {"q": PHONE})
    assert staff.post(f"{queue}check-in/{appointment.pk}/").status_code == 302
    counter = Counter.objects.filter(office=office).first()
    assert staff.post(f"{queue}call-next/", {"counter": counter.pk}).status_code == 302
    assert Appointment.objects.get(pk=appointment.pk).status == "called"
    send_outbox()  # "your turn" by SMS
    screen_key = DeskSettings.objects.get(office=office).screen_key
    SECRETS.add(screen_key)
    assert LoggedClient().get(f"/screen/{screen_key}/").status_code == 200

    text = log_text.getvalue()
    # The journey was logged: its requests, the failures, the bad links.
    assert 'path="/m/[redacted]/" status=302' in text
    assert "/es/manage/link/[redacted]/" in text
    assert 'path="/screen/[redacted]/" status=200' in text
    assert "message not sent notification=" in text
    assert "ConnectionResetError" in text
    assert "message failed notification=" in text
    assert "destination [number] unreachable" in text
    assert "invalid address" in text
    assert "bytes=" in text
    assert "duration_us=12345678" in text
    assert "/en/book/?[redacted]" in text
    # Nothing typed, and no token.
    lines = text.splitlines()
    leaked = {value: [line for line in lines if value.lower() in line.lower()] for value in PERSONAL}
    assert not {value: found for value, found in leaked.items() if found}
    SECRETS.discard("")
    leaked = {secret: [line for line in lines if secret in line] for secret in SECRETS}
    assert not {secret: found for secret, found in leaked.items() if found}
    assert len(SECRETS) >= 8
