"""Input that looks like digits or letters but is not ASCII, and evidence staff must not rewrite:
each gets a clear answer (never a 500) and changes nothing."""

import datetime

import pytest
from django.test import Client

from appointments.errors import BookingError
from appointments.models import Appointment
from appointments.services.booking import book_appointment, normalise_document_number
from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN, ROLE_SUPERVISOR
from core.text import is_ascii_digits, normalise_code
from eligibility.forms import DateField
from tests.appointments.conftest import NOW, details, first_slot, key, make_screening
from tests.appointments.test_admin import two_offices, user_in  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", True),
        ("0", True),
        ("", False),
        ("²", False),
        ("1²", False),
        ("٣", False),
        ("１２", False),
        ("1a", False),
    ],
)
def test_only_ascii_digits_are_digits(value, expected):
    assert is_ascii_digits(value) is expected


def test_full_width_and_ascii_spellings_are_one_code():
    assert normalise_code("ＡＢ-１２３ ４") == "AB1234"
    assert normalise_code("k7m-2qx-9rd") == "K7M2QX9RD"
    assert normalise_document_number("ｐ１２３４５６７") == "P1234567"


@pytest.mark.parametrize("parts", [["²", "3", "1990"], ["27", "٣", "1990"], ["27", "3", "１９９０"]])
def test_a_date_with_other_digits_is_a_form_error(parts):
    field = DateField()
    with pytest.raises(Exception, match="Enter the date in numbers") as error:
        field.clean(parts)
    assert error.type.__name__ == "ValidationError"


def test_a_full_width_document_number_is_the_same_document(office, screening, published):
    book_appointment(screening=screening, slot_id=first_slot(office).pk, details=details(), booking_key=key(), now=NOW)
    with pytest.raises(BookingError) as error:
        book_appointment(
            screening=make_screening(published, created_at=NOW),
            slot_id=first_slot(office, after=NOW + datetime.timedelta(days=2)).pk,
            details=details(document_number="Ｐ１２３４５６７"),
            booking_key=key(),
            now=NOW,
        )
    assert error.value.code == "duplicate"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/appointments/appointment/?office=%C2%B2",
        "/admin/notifications/notification/?office=%C2%B2",
        "/admin/appointments/slot/?office=%C2%B2",
    ],
)
def test_an_office_filter_with_a_superscript_digit_lists_everything(two_offices, url):  # noqa: F811
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/admin/appointments/slot/?starts_at__year=9999",
        "/admin/appointments/slot/?starts_at__year=9999&starts_at__month=12",
        "/admin/appointments/slot/?starts_at__year=9999&starts_at__month=12&starts_at__day=31",
        "/admin/appointments/closure/?starts_on__year=9999",
        "/admin/appointments/closure/?starts_on__year=0",
    ],
)
def test_a_date_hierarchy_past_year_9999_is_a_wrong_lookup(two_offices, url):  # noqa: F811
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.get(url)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    "url",
    [
        "/m/%C2%B2-0-aaaaaaaaaaaaaaaa/",
        "/es/manage/link/1-%C2%B2-aaaaaaaaaaaaaaaa/",
        "/es/manage/link/%D9%A3-0-aaaaaaaaaaaaaaaa/",
        "/es/manage/move/%D9%A2%D9%A0%D9%A2%D9%A6-11-30/",
    ],
)
def test_public_links_with_other_digits_are_refused_plainly(db, url):
    response = Client().get(url, follow=True)
    assert response.status_code in {400, 404}


@pytest.mark.parametrize("role", [ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN])
def test_consent_and_cancellation_times_cannot_be_edited(two_offices, role):  # noqa: F811
    (north, _), (in_north, _) = two_offices
    client, user = user_in(role, "someone")
    north.staff.add(user)
    page = client.get(f"/admin/appointments/appointment/{in_north.pk}/change/").content.decode()
    assert 'name="consent_at' not in page
    assert 'name="cancelled_at' not in page
    before = Appointment.objects.get(pk=in_north.pk)
    client.post(
        f"/admin/appointments/appointment/{in_north.pk}/change/",
        {
            "consent_at_0": "2020-01-01",
            "consent_at_1": "00:00",
            "cancelled_at_0": "2020-01-01",
            "cancelled_at_1": "00:00",
            "full_name": "Someone else",
        },
    )
    after = Appointment.objects.get(pk=in_north.pk)
    assert (after.consent_at, after.cancelled_at, after.full_name, after.status) == (
        before.consent_at,
        None,
        before.full_name,
        "booked",
    )


@pytest.mark.parametrize("term", ["%00abc", "ab%00", "%01%02%03"])
def test_a_search_with_control_characters_is_not_a_500(two_offices, term):  # noqa: F811
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.get(f"/admin/appointments/appointment/?q={term}")
    # A NUL is refused outright (400); other control characters are dropped from the search.
    assert response.status_code == (400 if "%00" in term else 200)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/appointments/office/?q=%00",
        "/admin/autocomplete/?app_label=appointments&model_name=closure&field_name=office&term=%00",
        "/admin/appointments/appointment/?status__exact=%00",
        "/admin/notifications/notification/?q=a%00b",
    ],
)
def test_a_nul_character_anywhere_is_a_400(two_offices, url):  # noqa: F811
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    assert supervisor.get(url).status_code == 400


def test_a_nul_character_in_a_public_form_is_a_400(db):
    response = Client().post("/es/manage/", {"reference": "ABC\x00DEF", "date_of_birth_0": "1"})
    assert response.status_code == 400
