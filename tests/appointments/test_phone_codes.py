"""Issue 13: a verified phone before a booking is final. At an office that verifies phones (the
default), "Confirm" sends a 6-digit code by SMS and the booking is made only when it is entered;
the code expires, allows a few wrong entries and a few resends, apart, and is stored as an HMAC.
Staff booking on a person's behalf, and offices that turn it off, book as before."""

import datetime
import hmac
import logging
import re
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from appointments.demo import load_demo_offices
from appointments.models import Appointment, Hold, Office, PhoneCheck, Slot
from appointments.services import phone_codes
from appointments.services.booking import book_appointment, hold_slot, purge_expired_holds
from appointments.services.phone_codes import CodeProblem, PhoneCodeError
from appointments.services.slots import generate_slots
from core.services import ROLE_PROGRAM_ADMIN
from eligibility.services import screening_reference
from notifications import sending
from notifications import services as outbox
from notifications.models import Notification
from tests.appointments.conftest import NOW, OfficeFactory, details, first_slot, make_screening, office_form
from tests.appointments.test_admin import user_in
from tests.appointments.test_pages import booking_client, choose, details_data, url
from tests.desk.conftest import staff_of

__all__ = ["booking_client"]  # fixture

pytestmark = pytest.mark.django_db
PHONE = "+573001234567"
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.HOLD_RATE = "997/m"  # a count of holds per address of its own (see test_journey.py)
    settings.PHONE_CODE_MINUTES = 10
    settings.PHONE_CODE_ATTEMPTS = 5
    settings.PHONE_CODE_RESENDS = 3
    settings.PHONE_CODE_RESEND_SECONDS = 30


@pytest.fixture
def live_office(published) -> Office:
    """The pages' office (tests/appointments/test_pages.py), verifying phones as offices do by default."""
    office = OfficeFactory(
        name="Oficina Bogotá Centro",
        hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)],
        max_party_size=3,
        verify_phone=True,
    )
    generate_slots(office=office)
    return office


def codes() -> list[str]:
    """The codes sent, oldest first, as the outbox rows carry them to the SMS."""
    return [row.details["code"] for row in Notification.objects.filter(kind="phone_code").order_by("pk")]


# ---------------------------------------------------------------------------------------------
# The service, at a fixed "now"
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def check(office, published) -> PhoneCheck:
    hold = hold_slot(slot_id=first_slot(office).pk, screening=make_screening(published, created_at=NOW), now=NOW)
    return phone_codes.check_for_hold(hold.token, now=NOW)


def send(check: PhoneCheck, *, at: datetime.datetime = NOW, phone: str = PHONE) -> str:
    phone_codes.send_code(check=check, phone=phone, office=check.hold.slot.office, language="es", now=at)
    return codes()[-1]


def refused(check: PhoneCheck, code: str, *, at: datetime.datetime = NOW, phone: str = PHONE) -> PhoneCodeError:
    with pytest.raises(PhoneCodeError) as caught:
        phone_codes.check_code(check=check, phone=phone, code=code, now=at)
    return caught.value


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_is_six_random_digits_kept_only_as_an_hmac(check):
    code = send(check)
    assert re.fullmatch(r"[0-9]{6}", code)
    check.refresh_from_db()
    assert len(check.code_hmac) == 64
    assert code not in " ".join(str(value) for value in PhoneCheck.objects.values_list().get())
    message = Notification.objects.get(kind="phone_code")
    assert (message.recipient, message.language, message.office_id) == (PHONE, "es", check.hold.slot.office_id)
    assert message.details == {"code": code, "minutes": 10, "expires_at": (NOW + 10 * MINUTE).isoformat()}
    assert message.appointment_id is None


def test_the_right_code_verifies_that_number_only(check):
    code = send(check)
    assert not phone_codes.is_verified(check, PHONE)
    phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW + MINUTE)
    check.refresh_from_db()
    assert phone_codes.is_verified(check, PHONE)
    assert not phone_codes.is_verified(check, "+573009999999")
    assert check.code_hmac == ""  # used: the same code cannot verify anything else


def test_a_code_for_another_number_does_not_verify_this_one(check):
    code = send(check)
    assert refused(check, code, phone="+573009999999").code == CodeProblem.NO_CODE
    check.refresh_from_db()
    assert check.verified_at is None


def test_a_code_expires_after_phone_code_minutes(check):
    code = send(check)
    error = refused(check, code, at=NOW + 10 * MINUTE)
    assert (error.code, error.code.status) == (CodeProblem.EXPIRED, 400)
    assert error.message == "This code has expired: a code works for 10 minutes. Please ask for a new code."
    phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW + 10 * MINUTE - datetime.timedelta(seconds=1))


def test_a_wrong_code_says_how_many_tries_are_left(check):
    code = send(check)
    error = refused(check, wrong(code))
    assert (error.code, error.code.status) == (CodeProblem.WRONG, 400)
    assert error.message == "This code is not right. Check the SMS and try again: 4 tries left."
    for _ in range(3):
        refused(check, wrong(code))
    assert refused(check, wrong(code)).code == CodeProblem.TOO_MANY_ATTEMPTS  # the fifth
    check.refresh_from_db()
    assert check.failures == 5


def test_the_code_is_compared_in_constant_time_with_its_hmac_never_as_typed(check, monkeypatch):
    """Right and wrong codes alike are compared by `hmac.compare_digest` (its time does not say how
    much of a guess was right), with the stored HMAC: the code itself is never stored."""
    compared, constant_time = [], hmac.compare_digest

    def compare_digest(a, b):
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(phone_codes.hmac, "compare_digest", compare_digest)
    code = send(check)
    check.refresh_from_db()
    stored = check.code_hmac
    assert code not in stored
    refused(check, wrong(code))
    phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW)
    assert len(compared) == 2
    assert all(b == stored and code not in a for a, b in compared)


def test_one_try_left_is_said_in_the_singular(check):
    code = send(check)
    for _ in range(3):
        refused(check, wrong(code))
    assert refused(check, wrong(code)).message == "This code is not right. Check the SMS and try again: 1 try left."
    phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW)  # the right one still works


def test_after_the_last_wrong_try_the_code_is_void_until_a_new_one_is_sent(check):
    code = send(check)
    for _ in range(4):
        refused(check, wrong(code))
    error = refused(check, wrong(code))
    assert (error.code, error.code.status) == (CodeProblem.TOO_MANY_ATTEMPTS, 429)
    assert error.message == (
        "The code was entered wrongly too many times and no longer works. Please ask for a new code."
    )
    assert error.retry_at == NOW + datetime.timedelta(seconds=30)  # when the next code may be sent
    # Even the right code no longer works.
    assert refused(check, code).code == CodeProblem.TOO_MANY_ATTEMPTS
    new = send(check, at=NOW + MINUTE)
    if new != code:
        assert refused(check, code, at=NOW + MINUTE).code == CodeProblem.WRONG
    phone_codes.check_code(check=check, phone=PHONE, code=new, now=NOW + MINUTE)


def test_resends_are_limited_and_spaced(check):
    first = send(check)
    with pytest.raises(PhoneCodeError) as caught:
        send(check, at=NOW + datetime.timedelta(seconds=29))
    error = caught.value
    assert (error.code, error.code.status) == (CodeProblem.TOO_SOON, 429)
    assert error.retry_at == NOW + datetime.timedelta(seconds=30)
    assert error.message == "A code was sent a moment ago. Please wait 1 second before asking for a new one."
    second = send(check, at=NOW + datetime.timedelta(seconds=30))
    # The new code replaces the one before.
    if second != first:
        assert refused(check, first, at=NOW + MINUTE).code == CodeProblem.WRONG
    send(check, at=NOW + 2 * MINUTE)
    send(check, at=NOW + 3 * MINUTE)  # the first code and three new ones
    with pytest.raises(PhoneCodeError) as caught:
        send(check, at=NOW + 4 * MINUTE)
    assert (caught.value.code, caught.value.code.status) == (CodeProblem.NO_MORE_CODES, 429)
    assert Notification.objects.filter(kind="phone_code").count() == 4
    # When every code is used, a void code cannot be replaced either: it says so.
    last = codes()[-1]
    for _ in range(5):
        error = refused(check, wrong(last), at=NOW + 4 * MINUTE)
    assert error.code == CodeProblem.TOO_MANY_ATTEMPTS
    assert "we cannot send more codes" in error.message
    assert error.retry_at is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter the code from the SMS."),
        ("   ", "Enter the code from the SMS."),
        ("12345", "The code has 6 numbers: check the SMS and type all of them."),
        ("1234567", "The code has 6 numbers: check the SMS and type all of them."),
        ("9" * 10_000, "The code has 6 numbers: check the SMS and type all of them."),
        ("12a456", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),
        ("١٢٣٤٥٦", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),  # Arabic-Indic
        ("१२३४५६", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),  # Devanagari
        ("123-456", "Enter the code with the numbers 0 to 9 only, as it is written in the SMS."),
    ],
)
def test_what_is_not_six_digits_0_to_9_is_refused_with_a_clear_message(typed, message):
    with pytest.raises(PhoneCodeError) as caught:
        phone_codes.clean_code(typed)
    assert (caught.value.code, caught.value.message) == (CodeProblem.INVALID, message)


def test_spaces_are_dropped_and_full_width_digits_folded():
    assert phone_codes.clean_code(" 123 456\t") == "123456"
    assert phone_codes.clean_code("\uff11\uff12\uff13\uff14\uff15\uff16") == "123456"  # full width


def test_the_right_code_typed_in_full_width_digits_verifies(check):
    code = send(check)
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in code)
    phone_codes.check_code(check=check, phone=PHONE, code=full_width, now=NOW)
    check.refresh_from_db()
    assert phone_codes.is_verified(check, PHONE)


def test_refused_input_does_not_count_as_a_try(check):
    code = send(check)
    for typed in ("", "١٢٣٤٥٦", "12"):
        with pytest.raises(PhoneCodeError):
            phone_codes.check_code(check=check, phone=PHONE, code=typed, now=NOW)
    check.refresh_from_db()
    assert check.failures == 0
    phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW)


def test_the_check_goes_with_its_hold_and_frees_only_the_hold_s_place(check):
    send(check)
    slot = check.hold.slot
    assert Slot.objects.get(pk=slot.pk).taken == 1
    assert purge_expired_holds(now=NOW + 11 * MINUTE) == 1
    assert Slot.objects.get(pk=slot.pk).taken == 0
    assert not PhoneCheck.objects.exists()


def test_the_sms_with_the_code_goes_through_the_outbox_to_the_file_backend(check, settings, tmp_path, caplog):
    settings.SMS_BACKEND = "notifications.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"
    with caplog.at_level(logging.DEBUG):
        code = send(check)
        message = Notification.objects.get(kind="phone_code")
        assert sending.send(notification_id=message.pk, now=NOW) == Notification.Status.SENT
        with pytest.raises(PhoneCodeError):
            phone_codes.check_code(check=check, phone=PHONE, code=wrong(code), now=NOW)
        phone_codes.check_code(check=check, phone=PHONE, code=code, now=NOW)
    [sms] = [path.read_text(encoding="utf-8") for path in (tmp_path / "sms").glob("*.txt")]
    assert sms.startswith(f"To: {PHONE}\n")
    assert f"su codigo es {code}" in sms  # GSM-7: no accent
    assert "Vence en 10 minutos" in sms
    assert code not in caplog.text  # never logged


# ---------------------------------------------------------------------------------------------
# The pages
# ---------------------------------------------------------------------------------------------
def to_check(client, office, slot: Slot | None = None, **typed: str) -> tuple[Slot, str]:
    """Choose a time (`slot`, else the first bookable) and type the details; the check page's key."""
    slot = choose(client, office, slot)
    response = client.post(url("details"), details_data(**typed))
    assert response.status_code == 302, response.content.decode()[:3000]
    page = client.get(url("check", lang="en")).content.decode()
    return slot, re.search(r'name="key" value="([^"]+)"', page).group(1)


def confirm(client, key: str):
    return client.post(url("check", lang="en"), {"key": key})


def enter(client, key: str, code: str):
    return client.post(url("verify-phone", lang="en"), {"key": key, "code": code})


def resend(client, key: str):
    return client.post(url("verify-phone", lang="en"), {"key": key, "resend": "1"})


def test_confirm_sends_a_code_and_books_nothing_until_it_is_entered(booking_client, live_office):
    client = booking_client
    slot, key = to_check(client, live_office)
    page = client.get(url("check", lang="en")).content.decode()
    assert "we send a code by SMS to your mobile phone" in page
    response = confirm(client, key)
    assert response.status_code == 302
    assert response["Location"] == url("verify-phone", lang="en")
    assert not Appointment.objects.exists()
    assert Slot.objects.get(pk=slot.pk).taken == 1  # the hold's place, nothing more
    assert Notification.objects.get(kind="phone_code").recipient == PHONE
    page = client.get(url("verify-phone", lang="en"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'We sent a code by SMS to <span class="text-nowrap">+57 300 *** **67</span>.' in html
    assert 'name="code"' in html
    assert 'autocomplete="one-time-code"' in html
    assert 'name="resend"' in html
    assert f'href="{url("details", lang="en")}"' in html
    assert PHONE not in html
    assert "1234567" not in html
    # Confirm again (the back button): the code sent is still good, no second SMS.
    assert confirm(client, key)["Location"] == url("verify-phone", lang="en")
    assert len(codes()) == 1
    assert not Appointment.objects.exists()


def test_the_right_code_books_exactly_once_even_when_sent_twice(booking_client, live_office):
    client = booking_client
    slot, key = to_check(client, live_office)
    confirm(client, key)
    [code] = codes()
    response = enter(client, key, f" {code[:3]} {code[3:]} ")
    assert response.status_code == 302
    assert response["Location"] == url("appointment", lang="en")
    appointment = Appointment.objects.get()
    assert str(appointment.booking_key) == key
    assert str(appointment.phone.as_e164) == PHONE
    assert Slot.objects.get(pk=slot.pk).taken == 1  # the hold became the appointment
    assert not Hold.objects.exists()
    assert not PhoneCheck.objects.exists()  # gone with the hold
    again = enter(client, key, code)
    assert again.status_code == 302
    assert again["Location"] == url("appointment", lang="en")
    assert Appointment.objects.count() == 1
    assert Slot.objects.get(pk=slot.pk).taken == 1


def test_a_second_press_that_loses_the_race_shows_the_appointment_made(booking_client, live_office, monkeypatch):
    """Two presses of the right code at once: the first books (its hold and the hold's check go),
    the second finds the check gone and shows the appointment the first made."""
    client = booking_client
    slot, key = to_check(client, live_office)
    confirm(client, key)
    [code] = codes()
    real_check_code = phone_codes.check_code
    answers = []

    def other_press_first(**kwargs):
        monkeypatch.setattr(phone_codes, "check_code", real_check_code)
        answers.append(enter(client, key, code))  # the other press, all the way through
        return real_check_code(**kwargs)

    monkeypatch.setattr(phone_codes, "check_code", other_press_first)
    response = enter(client, key, code)
    assert [answers[0]["Location"], response["Location"]] == [url("appointment", lang="en")] * 2
    assert Appointment.objects.count() == 1
    assert Slot.objects.get(pk=slot.pk).taken == 1


def test_a_wrong_code_on_the_page_is_refused_and_books_nothing(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    [code] = codes()
    response = enter(client, key, wrong(code))
    assert response.status_code == 400
    assert "This code is not right. Check the SMS and try again: 4 tries left." in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    for typed, message in (
        ("", "Enter the code from the SMS."),
        ("١٢٣٤٥٦", "Enter the code with the numbers 0 to 9 only"),
        ("1" * 500, "The code has 6 numbers"),
    ):
        response = enter(client, key, typed)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not Appointment.objects.exists()
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in code)
    assert enter(client, key, full_width)["Location"] == url("appointment", lang="en")


def test_too_many_wrong_codes_is_a_429_that_says_what_to_do(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    [code] = codes()
    for _ in range(4):
        assert enter(client, key, wrong(code)).status_code == 400
    response = enter(client, key, wrong(code))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 30
    assert "no longer works. Please ask for a new code." in response.content.decode()
    assert enter(client, key, code).status_code == 429  # void, even the right one
    assert not Appointment.objects.exists()
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    assert resend(client, key)["Location"] == url("verify-phone", lang="en")
    assert "We sent a new code." in client.get(url("verify-phone", lang="en")).content.decode()
    assert enter(client, key, codes()[-1])["Location"] == url("appointment", lang="en")


def test_new_codes_on_the_page_are_spaced_and_limited(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    response = resend(client, key)
    assert response.status_code == 429
    assert 25 <= int(response["Retry-After"]) <= 30
    assert "A code was sent a moment ago. Please wait" in response.content.decode()
    for _ in range(3):
        PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
        assert resend(client, key).status_code == 302
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    response = resend(client, key)
    assert response.status_code == 429
    html = response.content.decode()
    assert "We have sent as many codes as we can." in html
    assert "You can start again after" in html
    hold = Hold.objects.get()
    assert 0 < int(response["Retry-After"]) <= (hold.expires_at - timezone.now()).total_seconds() + 1
    assert len(codes()) == 4
    # The last code still books.
    assert enter(client, key, codes()[-1])["Location"] == url("appointment", lang="en")


def test_an_expired_code_on_the_page_asks_for_a_new_one(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    PhoneCheck.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = enter(client, key, codes()[-1])
    assert response.status_code == 400
    assert "This code has expired" in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_hold_that_expires_while_the_code_is_awaited_is_handled_as_before(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    Hold.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = enter(client, key, codes()[-1])
    assert response.status_code == 302
    assert response["Location"] == url("choose-day", live_office.slug, lang="en")
    page = client.get(response["Location"]).content.decode()
    assert "that time is over: it is free for others again" in page
    assert not Appointment.objects.exists()


def test_changing_the_number_sends_the_next_code_to_the_new_one(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    confirm(client, key)
    [old] = codes()
    client.post(url("details"), details_data(phone="300 765 4321"))
    # The page for the old number is gone: back to the check page for the new one.
    assert client.get(url("verify-phone", lang="en"))["Location"] == url("check", lang="en")
    # A code to the new number right after the old one's: wait, with nothing sent.
    response = confirm(client, key)
    assert response.status_code == 429
    assert 25 <= int(response["Retry-After"]) <= 30
    assert "A code was sent a moment ago. Please wait" in response.content.decode()
    assert "We sent a code by SMS" not in response.content.decode()
    assert len(codes()) == 1
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    assert confirm(client, key)["Location"] == url("verify-phone", lang="en")
    assert Notification.objects.filter(kind="phone_code").latest("pk").recipient == "+573007654321"
    assert "+57 300 *** **21" in client.get(url("verify-phone", lang="en")).content.decode()
    new = codes()[-1]
    if old != new:
        assert enter(client, key, old).status_code == 400
    assert enter(client, key, new)["Location"] == url("appointment", lang="en")
    assert str(Appointment.objects.get().phone.as_e164) == "+573007654321"


def test_the_code_page_without_a_code_sent_leads_to_the_check_page(booking_client, live_office):
    client = booking_client
    _slot, key = to_check(client, live_office)
    assert client.get(url("verify-phone", lang="en"))["Location"] == url("check", lang="en")
    assert enter(client, key, "123456")["Location"] == url("check", lang="en")
    assert not Appointment.objects.exists()


def test_staff_booking_on_a_person_s_behalf_skip_the_code(live_office, published):
    client, user = staff_of(live_office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    _slot, key = to_check(client, live_office)
    page = client.get(url("check", lang="en")).content.decode()
    assert "No code is sent to the person's phone" in page
    response = confirm(client, key)
    assert response["Location"] == url("appointment", lang="en")
    assert Appointment.objects.get().events.get().actor == user
    assert not Notification.objects.filter(kind="phone_code").exists()
    assert client.get(url("verify-phone", lang="en")).status_code == 302


def test_an_office_that_does_not_verify_phones_books_at_confirm(booking_client, live_office):
    Office.objects.filter(pk=live_office.pk).update(verify_phone=False)
    client = booking_client
    _slot, key = to_check(client, live_office)
    assert "we send a code by SMS" not in client.get(url("check", lang="en")).content.decode()
    assert confirm(client, key)["Location"] == url("appointment", lang="en")
    assert Appointment.objects.count() == 1
    assert not Notification.objects.filter(kind="phone_code").exists()


def test_offices_verify_phones_unless_told_otherwise(published):
    office = Office.objects.create(
        name="Nueva", slug="nueva", country="CO", city="Cali", time_zone="America/Bogota", address_en="-"
    )
    assert office.verify_phone is True
    # make run's demo offices too.
    demo = load_demo_offices(now=NOW)
    assert len(demo) == 4
    assert all(Office.objects.filter(pk__in=[o.pk for o in demo]).values_list("verify_phone", flat=True))


def test_the_office_s_admin_page_turns_it_on_and_off(live_office):
    admin, _user = user_in(ROLE_PROGRAM_ADMIN, "programme")
    page = admin.get(f"/admin/appointments/office/{live_office.pk}/change/").content.decode()
    assert 'name="verify_phone"' in page
    assert "A 6-digit code is sent by SMS to the number given" in page
    address = f"/admin/appointments/office/{live_office.pk}/change/"
    assert admin.post(address, office_form(live_office))["Location"] == "/admin/appointments/office/"
    assert Office.objects.get(pk=live_office.pk).verify_phone is False
    assert admin.post(address, office_form(live_office, verify_phone="on")).status_code == 302
    assert Office.objects.get(pk=live_office.pk).verify_phone is True


def test_the_number_is_masked_on_the_page():
    from appointments.views.phone import masked_phone

    assert masked_phone("+573001234567") == "+57 300 *** **67"
    assert masked_phone("+50251234567") == "+502 512 *** 67"


def test_no_code_is_sent_to_a_number_over_its_code_quota(booking_client, live_office, settings):
    """A number that had PHONE_CODES_PER_PHONE_PER_DAY codes today gets no code (the outbox would
    drop it): Confirm answers 429 with when to try again, books nothing and writes no code."""
    settings.PHONE_CODES_PER_PHONE_PER_DAY = 2
    now = timezone.now()
    # Redis outlives each test: this number's count starts from nothing, whatever ran before.
    cache.delete(outbox._sms_quota_key(PHONE, now, outbox.CODES))
    assert outbox.take_sms_quota(PHONE, now, budget=outbox.CODES)
    assert outbox.take_sms_quota(PHONE, now, budget=outbox.CODES)
    _slot, key = to_check(booking_client, live_office, phone="300 123 4567")
    response = confirm(booking_client, key)
    assert response.status_code == 429
    assert "as many codes today as we send to one number" in response.content.decode()
    assert "Nguyễn Thị Lan" in response.content.decode(), "the check page again, the details kept"
    assert int(response["Retry-After"]) > 0
    assert codes() == []
    assert not Appointment.objects.exists()


def test_no_code_is_sent_to_a_number_that_has_its_appointments_already(booking_client, live_office, published):
    """A number with ACTIVE_APPOINTMENTS_PER_PHONE appointments to come could not book: Confirm
    says so on the check page (the details kept) before a code is spent on it."""
    later = timezone.now() + datetime.timedelta(days=3)
    slots = list(Slot.objects.filter(office=live_office, starts_at__gt=later).order_by("starts_at")[:2])
    for n, slot in enumerate(slots):
        book_appointment(
            screening=make_screening(published),
            slot_id=slot.pk,
            details=details(document_number=f"P76543{n:02d}", phone=PHONE),
            booking_key=uuid.uuid4(),
        )
    _slot, key = to_check(booking_client, live_office, phone="300 123 4567")
    response = confirm(booking_client, key)
    assert response.status_code == 429
    text = response.content.decode()
    assert "This mobile phone number already has 2 appointments" in text
    assert "Nguyễn Thị Lan" in text
    assert int(response["Retry-After"]) > 0
    assert codes() == []
    assert Appointment.objects.count() == 2


def test_codes_sent_from_one_address_are_limited_and_the_one_over_keeps_the_details(published, live_office, settings):
    """PHONE_CODE_RATE: each time held is a new check with codes of its own, so the codes an
    address has sent are counted. The one over the limit gets the check page again (429), the
    details kept and when to try again, and no SMS; a new code asked for on the code page too."""
    settings.PHONE_CODE_RATE = "2/h"
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"

    later = timezone.now() + datetime.timedelta(days=2)
    slots = list(Slot.objects.filter(office=live_office, starts_at__gt=later).order_by("starts_at")[:3])

    def person(n: int):
        client = Client(REMOTE_ADDR=address)
        reference = screening_reference(make_screening(published))
        assert client.get("/es/book/", {"screening": reference}).status_code == 302
        _slot, key = to_check(
            client, live_office, slots[n - 1], phone=f"300 555 00{n:02d}", full_name=f"Persona Número {n}"
        )
        return client, key

    first, first_key = person(1)
    assert confirm(first, first_key)["Location"] == url("verify-phone", lang="en")
    second, second_key = person(2)
    assert confirm(second, second_key)["Location"] == url("verify-phone", lang="en")
    assert len(codes()) == 2
    third, third_key = person(3)
    over = confirm(third, third_key)
    assert over.status_code == 429
    html = over.content.decode()
    assert "Too many codes were sent by SMS from this connection." in html
    assert "Persona Número 3" in html, "the check page again, the details kept"
    assert 0 < int(over["Retry-After"]) <= 3600
    # Asking for a new code on the code page (once one may be) is counted the same way.
    first.get(url("verify-phone", lang="en"))
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    response = resend(first, first_key)
    assert response.status_code == 429
    assert "Too many codes were sent by SMS from this connection." in response.content.decode()
    assert len(codes()) == 2
    assert not Appointment.objects.exists()


def test_a_code_refused_anyway_is_not_counted_against_the_address(published, live_office, settings):
    """PHONE_CODE_RATE counts codes about to be sent, not presses refused for another reason (too
    soon after the last code): a shelter's Wi-Fi shares the count, and impatient presses must not
    use it up."""
    settings.PHONE_CODE_RATE = "2/h"
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    client = Client(REMOTE_ADDR=address)
    assert client.get("/es/book/", {"screening": screening_reference(make_screening(published))}).status_code == 302
    _slot, key = to_check(client, live_office, phone="300 555 0101", full_name="Persona Paciente")
    assert confirm(client, key)["Location"] == url("verify-phone", lang="en")
    for _press in range(3):
        response = resend(client, key)
        assert response.status_code == 429
        assert "A code was sent a moment ago." in response.content.decode()
    assert len(codes()) == 1
    PhoneCheck.objects.update(sent_at=timezone.now() - MINUTE)
    response = resend(client, key)
    assert (response.status_code, response["Location"]) == (302, url("verify-phone", lang="en"))
    assert len(codes()) == 2
