"""Issue 13: a verified phone before a lottery request or a waitlist entry counts. At an office
that verifies phones, the details page sends a 6-digit code by SMS (appointments.services.
phone_codes, as the booking's) and the request or entry is made only when it is entered; until then
it is a PendingRequest, counted nowhere. Every bad input on the code page gets a translated message
and a 4xx, the details typed stay. Staff acting on a person's behalf skip the code."""

import datetime
import random
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from allocation.models import PendingRequest, WaitlistEntry
from allocation.models.lottery import Draw, LotteryRequest
from appointments.models import Appointment, Office, PhoneCheck, Slot
from appointments.selectors import forget_office
from appointments.services import phone_codes
from appointments.services.booking import hold_slot
from eligibility.services import screening_reference
from notifications import services as outbox
from notifications.models import Notification
from tests.allocation.test_lottery import lottery_office, make_draw, person_client, post_request
from tests.allocation.test_waitlist import add_slot, book, form_data
from tests.appointments.conftest import OfficeFactory, make_screening
from tests.desk.conftest import staff_of

pytestmark = pytest.mark.django_db
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PHONE_CODE_MINUTES = 10
    settings.PHONE_CODE_ATTEMPTS = 5
    settings.PHONE_CODE_RESENDS = 3
    settings.PHONE_CODE_RESEND_SECONDS = 30


@dataclass
class Flow:
    """One of the two flows, as a person goes through its pages in English."""

    kind: str
    office: Office
    client: Client
    phone: str  # E.164, as typed in `submit`'s form
    details_url: str
    code_url: str
    done_url: str
    purpose: str  # what the code page says the code is for
    duplicate: str  # the start of the refusal of a second request or entry with one document

    def submit(self, client: Client | None = None, **overrides: str) -> Any:
        client = client or self.client
        if self.kind == "lottery":
            return post_request(client, self.office, 1, "en", **overrides)
        data = form_data(**overrides)
        assert client.post(f"/en/waitlist/join/{self.office.slug}/", {"party_size": "2"}).status_code == 302
        return client.post(self.details_url, data)

    def made(self) -> int:
        model = LotteryRequest if self.kind == "lottery" else WaitlistEntry
        return model.objects.count()

    def enter(self, code: str, client: Client | None = None) -> Any:
        return (client or self.client).post(self.code_url, {"code": code})

    def resend(self) -> Any:
        return self.client.post(self.code_url, {"resend": "1"})


def waitlist_office(published, *, verify_phone: bool) -> Office:
    """An office whose one time is booked: its day page offers the waitlist."""
    office = OfficeFactory(name="Oficina Llena", hours=[], max_party_size=3, verify_phone=verify_phone)
    book(add_slot(office), make_screening(published), "X9999999")
    return office


def english_client(published) -> Client:
    client = Client()
    assert client.get("/en/book/", {"screening": screening_reference(make_screening(published))}).status_code == 302
    return client


def make_flow(kind: str, published, *, verify_phone: bool = True) -> Flow:
    if kind == "lottery":
        office = lottery_office(verify_phone=verify_phone)
        make_draw(office)
        slug = office.slug
        return Flow(
            kind,
            office,
            person_client(published, "en"),
            "+573001200001",
            f"/en/lottery/{slug}/request/",
            f"/en/lottery/{slug}/code/",
            f"/en/lottery/{slug}/requested/",
            f"Your request for the lottery of {office.name} is sent only when you enter this code.",
            "There is already a request for this identity document in this draw.",
        )
    office = waitlist_office(published, verify_phone=verify_phone)
    slug = office.slug
    return Flow(
        kind,
        office,
        english_client(published),
        "+573001234567",
        f"/en/waitlist/join/{slug}/details/",
        f"/en/waitlist/join/{slug}/code/",
        "/en/waitlist/joined/",
        f"You join the waitlist of {office.name} only when you enter this code.",
        "This identity document or mobile phone number is already on this office&#x27;s waitlist.",
    )


@pytest.fixture(params=["lottery", "waitlist"])
def flow(request, published) -> Flow:
    return make_flow(request.param, published)


def set_verify_phone(office: Office, value: bool) -> None:
    Office.objects.filter(pk=office.pk).update(verify_phone=value)
    forget_office(office)  # the pages' cached copy


def codes() -> list[str]:
    return [row.details["code"] for row in Notification.objects.filter(kind="phone_code").order_by("pk")]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def html(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------------------------
# Nothing counts until the code is entered
# ---------------------------------------------------------------------------------------------
def test_the_details_send_a_code_and_nothing_is_counted_until_it_is_entered(flow):
    response = flow.submit()
    assert response.status_code == 302
    assert response["Location"] == flow.code_url
    assert flow.made() == 0
    pending = PendingRequest.objects.get()
    assert (pending.kind, pending.office) == (flow.kind, flow.office)
    [sms] = Notification.objects.filter(kind="phone_code")
    assert sms.recipient == flow.phone
    # Only the code's SMS: no "request registered" or "you joined" message yet.
    assert not Notification.objects.exclude(kind="phone_code").filter(recipient=flow.phone).exists()
    page = flow.client.get(flow.code_url)
    assert page.status_code == 200
    text = html(page)
    assert flow.purpose in text
    assert "We sent a code by SMS to <span" in text
    assert "*** **" in text
    assert flow.phone not in text
    assert 'autocomplete="one-time-code"' in text
    assert 'name="resend"' in text
    assert f'href="{flow.details_url}"' in text
    response = flow.enter(codes()[0])
    assert response.status_code == 302
    assert response["Location"] == flow.done_url
    assert flow.made() == 1
    assert not PendingRequest.objects.exists()
    assert not PhoneCheck.objects.exists()
    # A second press of the same code shows what was made, and makes nothing more.
    again = flow.enter(codes()[0])
    assert (again.status_code, again["Location"]) == (302, flow.done_url)
    assert flow.made() == 1


def test_a_second_press_that_loses_the_race_shows_what_the_first_made(flow, monkeypatch):
    """Two presses of the right code at once: the first makes the request and takes the check
    along; the second, which read the pending request before, finds the check gone. It leads to
    what was made, not to "this step has ended"."""
    assert flow.submit().status_code == 302
    [code] = codes()
    real_check_code = phone_codes.check_code

    def first_press_wins(**kwargs: Any) -> Any:
        monkeypatch.setattr(phone_codes, "check_code", real_check_code)
        other = Client()
        other.cookies = flow.client.cookies  # the same browser's other press
        assert flow.enter(code, other)["Location"] == flow.done_url
        return real_check_code(**kwargs)  # the check is gone now

    monkeypatch.setattr(phone_codes, "check_code", first_press_wins)
    second = flow.enter(code)
    assert (second.status_code, second["Location"]) == (302, flow.code_url)
    page = flow.client.get(flow.code_url)
    assert (page.status_code, page["Location"]) == (302, flow.done_url)
    assert flow.made() == 1


def test_sending_the_details_again_does_not_send_a_second_code_while_the_first_works(flow):
    flow.submit()
    assert flow.submit()["Location"] == flow.code_url
    assert len(codes()) == 1
    assert PendingRequest.objects.count() == 1


def test_a_wrong_code_keeps_the_details_typed(flow):
    flow.submit(full_name="Rosa Typed Nombre")
    [code] = codes()
    response = flow.enter(wrong(code))
    assert response.status_code == 400
    assert "This code is not right. Check the SMS and try again: 4 tries left." in html(response)
    assert 'aria-invalid="true"' in html(response)
    assert flow.purpose in html(response)
    assert flow.made() == 0
    # The details page shows what was typed, to change it.
    assert "Rosa Typed Nombre" in html(flow.client.get(flow.details_url))
    assert flow.enter(code)["Location"] == flow.done_url
    model = LotteryRequest if flow.kind == "lottery" else WaitlistEntry
    assert model.objects.get().full_name == "Rosa Typed Nombre"


def test_a_wrong_code_in_spanish_is_said_in_spanish(flow):
    flow.submit()
    [code] = codes()
    response = flow.client.post(flow.code_url.replace("/en/", "/es/"), {"code": wrong(code)})
    assert response.status_code == 400
    assert "Este código no es correcto" in html(response)


def test_an_expired_code_asks_for_a_new_one(flow):
    flow.submit()
    PhoneCheck.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = flow.enter(codes()[0])
    assert response.status_code == 400
    assert "This code has expired: a code works for 10 minutes. Please ask for a new code." in html(response)
    assert flow.made() == 0
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    assert flow.resend()["Location"] == flow.code_url
    assert flow.enter(codes()[-1])["Location"] == flow.done_url


def test_too_many_wrong_codes_is_a_429_and_a_new_code_works(flow):
    flow.submit()
    [code] = codes()
    for _ in range(4):
        assert flow.enter(wrong(code)).status_code == 400
    response = flow.enter(wrong(code))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "no longer works. Please ask for a new code." in html(response)
    assert flow.enter(code).status_code == 429  # void, even the right one
    assert flow.made() == 0
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    assert flow.resend()["Location"] == flow.code_url
    assert "We sent a new code." in html(flow.client.get(flow.code_url))
    assert flow.enter(codes()[-1])["Location"] == flow.done_url


def test_new_codes_are_spaced_and_limited(flow):
    flow.submit()
    response = flow.resend()
    assert response.status_code == 429
    assert 25 <= int(response["Retry-After"]) <= 30
    assert "A code was sent a moment ago. Please wait" in html(response)
    for _ in range(3):
        PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
        assert flow.resend().status_code == 302
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    response = flow.resend()
    assert response.status_code == 429
    assert "We have sent as many codes as we can." in html(response)
    assert "You can send your details again after" in html(response)
    assert int(response["Retry-After"]) > 0
    assert len(codes()) == 4
    assert flow.enter(codes()[-1])["Location"] == flow.done_url


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the code from the SMS."),
        ("١٢٣٤٥٦", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),  # Arabic-Indic
        ("12a456", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),
        ("1" * 100_000, "The code has 6 numbers: check the SMS and type all of them."),
    ],
)
def test_what_is_not_six_digits_is_refused_and_not_counted(flow, typed, message):
    flow.submit()
    response = flow.enter(typed)
    assert response.status_code == 400
    assert message in html(response)
    assert flow.made() == 0
    assert PhoneCheck.objects.get().failures == 0
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in codes()[0])
    assert flow.enter(full_width)["Location"] == flow.done_url


def test_a_button_the_page_does_not_have_changes_nothing(flow):
    flow.submit()
    response = flow.client.post(flow.code_url, {})
    assert response.status_code == 400
    assert "Enter the code from the SMS." in html(response)
    assert flow.made() == 0


def test_the_code_page_without_a_code_leads_to_the_details(flow):
    response = flow.client.get(flow.code_url)
    assert (response.status_code, response["Location"]) == (302, flow.details_url)
    response = flow.enter("123456")
    assert (response.status_code, response["Location"]) == (302, flow.details_url)
    assert flow.made() == 0


def test_no_code_to_a_number_over_its_code_quota(flow, settings):
    settings.PHONE_CODES_PER_PHONE_PER_DAY = 2
    phone = f"300 {random.randrange(1000000, 9999999)}"  # noqa: S311  # a number of this test's own (Redis outlives it)
    now = timezone.now()
    e164 = "+57" + phone.replace(" ", "")
    assert outbox.take_sms_quota(e164, now, budget=outbox.CODES)
    assert outbox.take_sms_quota(e164, now, budget=outbox.CODES)
    response = flow.submit(phone=phone, full_name="Quota Persona Typed")
    assert response.status_code == 429
    assert "as many codes today as we send to one number" in html(response)
    assert "Quota Persona Typed" in html(response)  # the form again, as typed
    assert int(response["Retry-After"]) > 0
    assert codes() == []
    assert flow.made() == 0


def test_a_new_number_gets_the_next_code(flow):
    flow.submit()
    [old] = codes()
    response = flow.submit(phone="310 765 4321", full_name="Nuevo Numero Typed")
    assert response.status_code == 429  # a code went a moment ago: the form again, as typed
    assert "A code was sent a moment ago. Please wait" in html(response)
    assert "Nuevo Numero Typed" in html(response)
    assert 25 <= int(response["Retry-After"]) <= 30
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    assert flow.submit(phone="310 765 4321")["Location"] == flow.code_url
    assert Notification.objects.filter(kind="phone_code").latest("pk").recipient == "+573107654321"
    assert "+57 310 *** **21" in html(flow.client.get(flow.code_url))
    new = codes()[-1]
    if new != old:
        assert flow.enter(old).status_code == 400
    assert flow.enter(new)["Location"] == flow.done_url
    model = LotteryRequest if flow.kind == "lottery" else WaitlistEntry
    assert model.objects.get().phone.as_e164 == "+573107654321"


def test_a_refusal_known_before_the_code_sends_no_code(flow, published):
    """Already on the list, or already a request with this document: said at once, no SMS."""
    other = Client()
    assert other.get("/en/book/", {"screening": screening_reference(make_screening(published))}).status_code == 302
    flow.submit(other)
    assert flow.enter(codes()[0], other)["Location"] == flow.done_url
    response = flow.submit(phone="310 765 4321")  # the same document
    assert response.status_code == 409
    assert flow.duplicate in html(response)
    assert len(codes()) == 1
    assert flow.made() == 1


def test_a_refusal_after_the_code_shows_the_details_again(flow, published):
    """Someone else's request or entry with the same document made while the code was awaited."""
    flow.submit()
    other = Client()
    assert other.get("/en/book/", {"screening": screening_reference(make_screening(published))}).status_code == 302
    set_verify_phone(flow.office, False)
    assert flow.submit(other, phone="310 765 4321")["Location"] == flow.done_url
    set_verify_phone(flow.office, True)
    response = flow.enter(codes()[0])
    assert response.status_code == 409
    text = html(response)
    assert flow.duplicate in text
    assert 'name="full_name"' in text  # the details form, filled in
    assert flow.made() == 1


@pytest.mark.parametrize("kind", ["lottery", "waitlist"])
def test_staff_acting_on_a_person_s_behalf_skip_the_code(published, kind):
    flow = make_flow(kind, published)
    client, _user = staff_of(flow.office)
    reference = screening_reference(make_screening(published))
    assert client.get("/en/book/", {"screening": reference}).status_code == 302
    response = flow.submit(client)
    assert response.status_code == 302
    assert response["Location"] == flow.done_url
    assert flow.made() == 1
    assert codes() == []
    assert not PendingRequest.objects.exists()


@pytest.mark.parametrize("kind", ["lottery", "waitlist"])
def test_an_office_that_does_not_verify_phones_makes_it_at_once(published, kind):
    flow = make_flow(kind, published, verify_phone=False)
    response = flow.submit()
    assert (response.status_code, response["Location"]) == (302, flow.done_url)
    assert flow.made() == 1
    assert codes() == []
    assert flow.client.get(flow.code_url)["Location"] == flow.details_url


# ---------------------------------------------------------------------------------------------
# What is kept, and for how long
# ---------------------------------------------------------------------------------------------
def test_a_pending_request_goes_phone_code_minutes_after_its_last_code_expired(flow, published):
    flow.submit()
    check = PhoneCheck.objects.get()
    # A booking's check belongs to its hold: never purged here.
    other = OfficeFactory(name="Otra", hours=[])
    hold = hold_slot(slot_id=add_slot(other).pk, screening=make_screening(published))
    booking_check = phone_codes.check_for_hold(hold.token)
    last_use = check.expires_at + 10 * MINUTE
    assert phone_codes.purge_unlinked_checks(now=last_use) == 0
    assert PendingRequest.objects.exists()
    assert phone_codes.purge_unlinked_checks(now=last_use + datetime.timedelta(seconds=1)) == 1
    assert not PendingRequest.objects.exists()
    assert list(PhoneCheck.objects.all()) == [booking_check]


def test_an_ended_pending_request_is_gone_for_the_pages_before_the_purge(flow):
    flow.submit()
    PhoneCheck.objects.update(expires_at=timezone.now() - 11 * MINUTE)
    response = flow.enter(codes()[0])
    assert (response.status_code, response["Location"]) == (302, flow.details_url)
    assert flow.made() == 0


def test_the_per_minute_hold_purge_deletes_pending_requests_that_are_over(flow):
    from appointments.tasks import purge_expired_holds

    flow.submit()
    PhoneCheck.objects.update(expires_at=timezone.now() - 10 * MINUTE - datetime.timedelta(seconds=1))
    purge_expired_holds()
    assert not PendingRequest.objects.exists()
    assert not PhoneCheck.objects.exists()


def test_a_request_never_confirmed_blocks_nobody(flow, published):
    """Someone types another person's number (a bot, a typo) and never enters the code: the owner of
    the number still asks, with their own document, and gets their request or entry."""
    flow.submit()  # the first browser never enters its code
    owner = english_client(published)
    response = flow.submit(owner, document_number="Q7654321")
    assert response["Location"] == flow.code_url
    assert flow.enter(codes()[-1], owner)["Location"] == flow.done_url
    assert flow.made() == 1
    assert PendingRequest.objects.count() == 1  # the other, still waiting for its code


def test_a_draw_that_closed_while_the_code_was_awaited_takes_no_request(published):
    flow = make_flow("lottery", published)
    flow.submit()
    Draw.objects.update(closes_at=timezone.now() - datetime.timedelta(seconds=1))
    response = flow.enter(codes()[0])
    assert response.status_code == 409
    assert "Requests for this draw are not open now" in html(response)
    assert flow.made() == 0


# ---------------------------------------------------------------------------------------------
# A number with its appointments already
# ---------------------------------------------------------------------------------------------
CAP_REACHED = "This mobile phone number already has 1 appointment that has not taken place yet"


def at_the_phone(text: str) -> bool:
    """Whether the page's phone field carries an error (the message said there, not at the top)."""
    return bool(re.search(r'<input[^>]*name="phone"[^>]*aria-invalid="true"', text))


def test_a_number_at_its_appointments_cap_gets_no_code_and_is_told_at_the_phone(flow, published, settings):
    """A number at ACTIVE_APPOINTMENTS_PER_PHONE could not take a place won or offered (it would
    wait for nobody): refused before any code is sent, at the phone, the details kept; another
    number goes on to its code."""
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    book(add_slot(OfficeFactory(hours=[]), days=6), make_screening(published), "Z1234567", phone=flow.phone)
    response = flow.submit()
    assert response.status_code == 409
    text = html(response)
    assert CAP_REACHED in text
    assert at_the_phone(text)
    assert 'name="full_name"' in text
    assert codes() == []
    assert flow.made() == 0
    assert flow.submit(phone="310 765 4321")["Location"] == flow.code_url
    assert len(codes()) == 1


def test_a_number_that_booked_while_its_code_was_awaited_is_refused_at_the_code(flow, published, settings):
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    assert flow.submit()["Location"] == flow.code_url
    book(add_slot(OfficeFactory(hours=[]), days=6), make_screening(published), "Z1234567", phone=flow.phone)
    response = flow.enter(codes()[0])
    assert response.status_code == 409
    text = html(response)
    assert CAP_REACHED in text
    assert at_the_phone(text)
    assert flow.made() == 0


@pytest.mark.parametrize("status", [Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN])
def test_appointments_over_before_the_draw_closes_do_not_count(published, settings, status):
    """A draw's places are offered after it closes: a number whose appointments will be over by
    then may ask, even one the person is at the office for now."""
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    flow = make_flow("lottery", published)
    draw = Draw.objects.get(office=flow.office)
    appointment = book(
        add_slot(OfficeFactory(hours=[]), days=6), make_screening(published), "Z1234567", phone=flow.phone
    )
    soon = draw.closes_at - 2 * MINUTE
    Slot.objects.filter(pk=appointment.slot_id).update(starts_at=soon - 30 * MINUTE, ends_at=soon)
    Appointment.objects.filter(pk=appointment.pk).update(status=status)
    assert flow.submit()["Location"] == flow.code_url
    assert flow.enter(codes()[0])["Location"] == flow.done_url
    assert flow.made() == 1
