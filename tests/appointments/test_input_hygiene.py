"""Issue 12, input hygiene: one spelling per identity document (NFKC, then the ASCII letters and
digits only; letters of other alphabets refused, never dropped), and names without hidden
characters and with at least one letter, the family members' too. Each bad input the issue names
gets the exact answer, on the details page (in English) and from the booking service."""

import pytest

from appointments.errors import BookingError
from appointments.models import Appointment
from appointments.services.booking import book_appointment, check_name, normalise_document_number
from core.text import foreign_alphanumerics, hidden_characters, normalise_code
from tests.appointments.conftest import NOW, details, first_slot, key
from tests.appointments.test_pages import book, booking_client, choose, details_data, live_office, url

__all__ = ["booking_client", "live_office"]  # fixtures

pytestmark = pytest.mark.django_db

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "María" shown as "aíraM" in the admin and the e-mail
ZWSP = "\u200b"  # ZERO WIDTH SPACE
DOCUMENT_MESSAGE = (
    "Enter the document number with the letters A to Z and the numbers 0 to 9 only, as printed on the "
    "document. Retype: {}"
)
NAME_HIDDEN = (
    "Your full name contains a hidden character that changes how text is shown. Type your name again "
    "instead of copying and pasting it."
)
COMPANION_HIDDEN = (
    "The name of family member 2 contains a hidden character that changes how text is shown. Type the "
    "name again instead of copying and pasting it."
)


@pytest.fixture(autouse=True)
def _own_hold_count(settings):
    # Many holds from one address: a rate of their own (django-ratelimit keys its counts by rate)
    # leaves the other tests' count of holds per address untouched.
    settings.HOLD_RATE = "999/m"


def test_full_width_and_ascii_document_numbers_are_one_spelling():
    assert normalise_code("ＡＢ１２３４５") == normalise_code("AB12345") == "AB12345"
    assert normalise_document_number("ＡＢ－１２３ ４５") == "AB12345"
    assert normalise_document_number("𝐀𝐁①②③④⑤") == "AB12345"  # mathematical bold letters, circled digits


@pytest.mark.parametrize(
    ("number", "refused"),
    [
        ("AÉ12345", "É"),
        ("\u0410\u041212345", "А В"),  # Cyrillic A and VE (U+0410, U+0412): look like A and B
        ("AB\u0661\u0662\u0663\u0664", "١ ٢ ٣ ٤"),  # Arabic-Indic digits
        ("Straße1234", "ß"),
        ("AB12345ı", "ı"),  # dotless i, "I" once in capitals
    ],
)
def test_a_letter_or_digit_without_an_ascii_spelling_is_refused(number, refused):
    assert foreign_alphanumerics(number).replace("", " ").strip() == refused
    with pytest.raises(BookingError) as error:
        normalise_document_number(number)
    assert error.value.code == "invalid"
    assert error.value.message == DOCUMENT_MESSAGE.format(refused)
    # Searches and references still read such text as a code, without those characters.
    assert all(ch.isascii() for ch in normalise_code(number))


def test_hidden_characters_are_format_and_control_characters():
    assert hidden_characters(f"Ma{RLO}ría{ZWSP} \u200d\ufeff\x07") == [RLO, ZWSP, "\u200d", "\ufeff", "\x07"]
    assert hidden_characters("Nguyễn Thị Lan, José-María O'Neill") == []


@pytest.mark.parametrize(
    ("name", "companion", "message"),
    [
        (f"{RLO}María Pérez", None, NAME_HIDDEN),
        (f"María{ZWSP}Pérez", None, NAME_HIDDEN),
        ("María\u2066Pérez\u2069", None, NAME_HIDDEN),  # left-to-right isolate
        ("12345", None, "Enter your name in letters."),
        (f"Tú{RLO}", 2, COMPANION_HIDDEN),
        (f"Tú{ZWSP}", 2, COMPANION_HIDDEN),
        ("123", 2, "Enter the name of family member 2 in letters."),
        ("-- .", 3, "Enter the name of family member 3 in letters."),
    ],
)
def test_names_with_hidden_characters_or_no_letter_are_refused(name, companion, message):
    with pytest.raises(BookingError) as error:
        check_name(name, companion=companion)
    assert (error.value.code, error.value.message) == ("invalid", message)


ZWNJ = "\u200c"  # ZERO WIDTH NON-JOINER: Persian's half-space, an Indic letter without its conjunct
ZWJ = "\u200d"  # ZERO WIDTH JOINER: an Indic consonant's half form


@pytest.mark.parametrize(
    "name",
    [
        f"علی{ZWNJ}اکبر کریمی",  # Persian: Ali-Akbar, two words joined by a half-space
        f"زهرا نیک{ZWNJ}نام",  # Persian surname Nik-nam
        f"मीनाक्{ZWNJ}षी",  # Devanagari: virama then ZWNJ, ksha written without its conjunct
        f"लक्{ZWJ}ष्मी शर्मा",  # Devanagari: virama then ZWJ, the half form of ka
        f"শ্রীমতী র{ZWJ}্যাব",  # Bengali: ra then ZWJ then virama, the ya-phala form
    ],
)
def test_joiners_inside_a_word_of_a_script_that_uses_them_are_part_of_the_name(name):
    assert hidden_characters(name) == []
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        ZWNJ,  # alone
        f"{ZWNJ}علی اکبر",  # leading
        f"علی اکبر{ZWJ}",  # trailing
        f"علی {ZWNJ}اکبر",  # next to a space: shows nothing
        f"علی{ZWNJ}{ZWNJ}اکبر",  # twice: a second spelling of the same name
        f"Ana{ZWNJ}María",  # between Latin letters it changes nothing shown
        f"علی{ZWNJ}Maria",  # between two scripts
    ],
)
def test_joiners_anywhere_else_are_refused(name):
    with pytest.raises(BookingError) as error:
        check_name(name)
    assert (error.value.code, error.value.message) == ("invalid", NAME_HIDDEN)


def test_joiners_in_a_document_number_fold_away_and_make_no_second_spelling():
    assert normalise_document_number(f"AB{ZWNJ}123{ZWJ}45") == normalise_document_number("AB12345") == "AB12345"


def test_the_service_keeps_a_persian_name_with_its_half_space(office, screening):
    name = f"علی{ZWNJ}اکبر کریمی"
    appointment = book_appointment(
        screening=screening,
        slot_id=first_slot(office).pk,
        details=details(full_name=name, party_size=2, companions=[{"name": f"زهرا نیک{ZWNJ}نام", "age": 9}]),
        booking_key=key(),
        now=NOW,
    )
    appointment.refresh_from_db()
    assert appointment.full_name == name
    assert appointment.companions == [{"name": f"زهرا نیک{ZWNJ}نام", "age": 9}]


def test_a_name_is_kept_in_one_spelling():
    assert check_name("  Jose\u0301   María  ") == "José María"  # accent typed as a combining mark


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"full_name": f"{RLO}María Pérez"}, NAME_HIDDEN),
        ({"full_name": f"María{ZWSP}Pérez"}, NAME_HIDDEN),
        ({"document_number": "AÉ12345"}, DOCUMENT_MESSAGE.format("É")),
        ({"companions": [{"name": f"Tú{RLO}", "age": 9}], "party_size": 2}, COMPANION_HIDDEN),
        (
            {"companions": [{"name": "Ana", "age": 9}, {"name": "007", "age": 5}], "party_size": 3},
            "Enter the name of family member 3 in letters.",
        ),
    ],
)
def test_the_booking_service_refuses_them_too(office, screening, overrides, message):
    with pytest.raises(BookingError) as error:
        book_appointment(
            screening=screening, slot_id=first_slot(office).pk, details=details(**overrides), booking_key=key(), now=NOW
        )
    assert (error.value.code, error.value.message) == ("invalid", message)
    assert not Appointment.objects.exists()


def test_the_service_stores_the_one_spelling(office, screening):
    appointment = book_appointment(
        screening=screening,
        slot_id=first_slot(office).pk,
        details=details(
            full_name=" Jose\u0301  Pérez ",
            document_number="ｐ－１２３４５６７",
            party_size=2,
            companions=[{"name": "  Tu\u0301  Lan ", "age": 9}],
        ),
        booking_key=key(),
        now=NOW,
    )
    appointment.refresh_from_db()
    assert (appointment.full_name, appointment.document_number) == ("José Pérez", "P1234567")
    assert appointment.companions == [{"name": "Tú Lan", "age": 9}]


def _errors(response) -> str:
    assert response.status_code == 400
    return response.content.decode().replace("&#x27;", "'")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_name", f"{RLO}Lan Nguyễn", NAME_HIDDEN),
        ("full_name", f"Lan{ZWSP} Nguyễn", NAME_HIDDEN),
        ("companion_name_1", f"Tú{RLO}", COMPANION_HIDDEN),
        ("companion_name_1", f"{ZWSP}Tú", COMPANION_HIDDEN),
        ("companion_name_1", "1234", "Enter the name of family member 2 in letters."),
        ("document_number", "AÉ-123456", DOCUMENT_MESSAGE.format("É")),
        ("document_number", "\u0410\u0412123456", DOCUMENT_MESSAGE.format("А В")),
    ],
)
def test_the_details_page_names_the_problem(booking_client, live_office, field, value, message):
    choose(booking_client, live_office)
    data = details_data(party_size="2", companion_name_1="Tú", companion_age_1="9")
    data[field] = value
    page = _errors(booking_client.post(url("details", lang="en"), data))
    assert message in page
    assert 'class="error-summary"' in page
    assert f'href="#id_{field}"' in page
    assert not Appointment.objects.exists()


def test_a_full_width_document_number_on_the_page_is_the_same_document(booking_client, live_office):
    appointment = book(booking_client, live_office, document_number="ＶＥ－１２３４５６７")
    assert appointment.document_number == "VE1234567"
