"""The booking pages' second pass: the offices of the country where the person lives, the party size
asked first, the date of birth and nationality taken from the questions, errors that name their
field, the confirmation, and a second booking in the same browser."""

import datetime
import re

import pytest

from appointments.models import Appointment
from eligibility.services import screening_reference
from tests.appointments.conftest import OfficeFactory, make_screening
from tests.appointments.test_pages import book, booking_client, choose, details_data, live_office, url

__all__ = ["booking_client", "live_office"]  # fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_hold_count(settings):
    # These tests hold many places from one address: a rate of their own (django-ratelimit keys
    # its counts by rate) leaves the other tests' count of holds per address untouched.
    settings.HOLD_RATE = "1000/m"


def test_only_the_offices_of_the_country_where_the_person_lives(booking_client, live_office):
    other = OfficeFactory(name="Oficina Medellín", city="Medellín")
    guatemala = OfficeFactory(name="Oficina Guatemala", country="GT", city="Guatemala", time_zone="America/Guatemala")
    page = booking_client.get(url("choose-office")).content.decode()
    assert "Oficina Bogotá Centro" in page
    assert "Oficina Medellín" in page
    assert "Oficina Guatemala" not in page
    assert "Las oficinas de Colombia" in page
    assert booking_client.get(url("choose-day", other.slug)).status_code == 200
    assert booking_client.get(url("choose-day", guatemala.slug)).status_code == 404


def test_the_office_of_a_single_office_country_is_shown_with_a_change_link(booking_client, live_office):
    response = booking_client.get(url("choose-office"), follow=True)
    assert response.redirect_chain == [(url("choose-day", live_office.slug), 302)]
    html = response.content.decode()
    assert "Oficina Bogotá Centro" in html
    assert f'href="{url("choose-office")}?list=1"' in html
    # Times are said in the words people use, not as a time-zone database name.
    assert "hora de Colombia" in html
    assert "America/Bogota" not in html


def test_the_party_size_comes_first_and_only_the_companions_needed_are_asked(booking_client, live_office):
    choose(booking_client, live_office)
    html = booking_client.get(url("people")).content.decode()
    assert re.findall(r'name="party_size" value="(\d)"', html) == ["1", "2", "3"]
    for bad in ("4", "²", "", "0"):
        response = booking_client.post(url("people"), {"party_size": bad})
        assert response.status_code == 400, bad
        assert "Hay un problema" in response.content.decode()
    assert "como máximo a 3 personas" in booking_client.post(url("people"), {"party_size": "4"}).content.decode()
    assert booking_client.post(url("people"), {"party_size": "1"})["Location"] == url("details")
    html = booking_client.get(url("details")).content.decode()
    assert "companion_name" not in html, "one person: no companion to describe"
    booking_client.post(url("people"), {"party_size": "3"})
    html = booking_client.get(url("details")).content.decode()
    assert re.findall(r'name="(companion_name_\d)"', html) == ["companion_name_1", "companion_name_2"]
    assert '<input type="hidden" name="party_size" value="3"' in html


@pytest.fixture
def screened_client(client, live_office, published):
    """A browser that answered the questions (date of birth, nationality) before booking."""
    screening = make_screening(published)
    session = client.session
    session["screened_person"] = {"screening": screening.pk, "date_of_birth": "1986-06-14", "nationality": "VE"}
    session.save()
    client.get("/es/book/", {"screening": screening_reference(screening)})
    return client


def test_the_date_of_birth_and_nationality_come_from_the_questions(screened_client, live_office):
    choose(screened_client, live_office)
    html = screened_client.get(url("details")).content.decode()
    assert "date_of_birth_0" not in html
    assert 'name="nationality"' not in html
    assert "14 de junio de 1986" in html
    assert "Venezuela" in html
    assert f'href="{url("details")}?change=identity"' in html
    data = {k: v for k, v in details_data().items() if not k.startswith(("date_of_birth", "nationality"))}
    assert screened_client.post(url("details"), data).status_code == 302
    key = re.search(r'name="key" value="([^"]+)"', screened_client.get(url("check")).content.decode())[1]
    screened_client.post(url("check"), {"key": key})
    appointment = Appointment.objects.get()
    assert (appointment.date_of_birth, appointment.nationality) == (datetime.date(1986, 6, 14), "VE")


def test_changing_the_date_of_birth_from_the_questions(screened_client, live_office):
    choose(screened_client, live_office)
    html = screened_client.get(url("details") + "?change=identity").content.decode()
    assert "date_of_birth_0" in html
    assert 'name="identity" value="ask"' in html
    data = details_data(date_of_birth_0="2", date_of_birth_1="3", date_of_birth_2="1980", nationality="CU")
    assert screened_client.post(url("details"), {**data, "identity": "ask"}).status_code == 302
    check = screened_client.get(url("check")).content.decode()
    assert "2 de marzo de 1980" in check
    assert "Cuba" in check


def test_someone_who_did_not_answer_here_is_asked_both(booking_client, live_office):
    choose(booking_client, live_office)
    html = booking_client.get(url("details")).content.decode()
    assert "date_of_birth_0" in html
    assert 'name="nationality"' in html


def test_errors_name_their_field_and_mark_the_group(booking_client, live_office):
    choose(booking_client, live_office)
    data = details_data(nationality="", document_country="")
    del data["document_type"]
    html = booking_client.post(url("details"), data).content.decode()
    assert "Seleccione su nacionalidad." in html
    assert "Seleccione el país que emitió su documento." in html
    assert "Seleccione un país." not in html
    assert "Seleccione el tipo de documento." in html
    # The group carries the error; no option is painted as invalid.
    assert re.search(r'<input type="radio" name="document_type"[^>]*is-invalid', html) is None
    assert '<fieldset class="field field--error"' in html


def test_the_confirmation_leads_with_the_reference_and_how_to_reach_the_office(booking_client, live_office):
    live_office.phone = "+5716012345"
    live_office.save()
    appointment = book(booking_client, live_office)
    html = booking_client.get(url("appointment")).content.decode()
    panel = html[html.index('class="confirmation-panel"') : html.index("</div>", html.index("confirmation-panel"))]
    assert appointment.display_reference in panel
    assert "Enviamos un SMS con esta referencia al +57 300 1234567." in html
    assert '<a href="tel:+5716012345">+57 16012345</a>' in html
    assert "Lunes a Domingo: 08:00–12:00" in html
    # The printed appointment (header and footer are not printed) still names the service.
    assert '<p class="ticket__service">Oficinas de Movilidad Segura</p>' in html
    # Move and cancel are secondary: links, not buttons.
    assert f'<li><a href="{url("cancel")}">Cancelar la cita</a></li>' in html
    # Seen again later, it is the appointment's page, without "booked" news.
    assert "confirmation-panel" not in booking_client.get(url("appointment")).content.decode()


def test_a_second_booking_in_the_same_browser_reaches_its_own_check_page(booking_client, live_office):
    first = book(booking_client, live_office)
    slot = choose(booking_client, live_office)
    data = details_data(full_name="Ana Segunda", document_number="W7654321")
    assert booking_client.post(url("details"), data).status_code == 302
    response = booking_client.get(url("check"))
    assert response.status_code == 200, "not sent to the first appointment"
    html = response.content.decode()
    assert "Ana Segunda" in html
    key = re.search(r'name="key" value="([^"]+)"', html)[1]
    assert key != str(first.booking_key)
    booking_client.post(url("check"), {"key": key})
    second = Appointment.objects.exclude(pk=first.pk).get()
    assert (second.full_name, second.slot_id) == ("Ana Segunda", slot.pk)
    assert "Ana Segunda" in booking_client.get(url("appointment")).content.decode()


def test_changing_the_number_of_people_from_the_check_page_is_kept(booking_client, live_office):
    choose(booking_client, live_office)
    booking_client.post(url("people"), {"party_size": "1"})
    booking_client.post(url("details"), details_data())
    booking_client.post(url("people"), {"party_size": "3"})
    html = booking_client.get(url("details")).content.decode()
    assert '<input type="hidden" name="party_size" value="3"' in html
    data = details_data(party_size="3", companion_name_1="Ana", companion_age_1="9")
    data.update(companion_name_2="Luis", companion_age_2="7")
    assert booking_client.post(url("details"), data).status_code == 302
    check = booking_client.get(url("check")).content.decode()
    assert "3, Ana (9), Luis (7)" in check


def test_a_hostile_party_size_on_the_details_page_is_a_clear_refusal(booking_client, live_office):
    choose(booking_client, live_office)
    for bad in ("9" * 5000, "٣", "-1", "3.0"):
        response = booking_client.post(url("details"), details_data(party_size=bad))
        assert response.status_code == 400, bad
        assert "Hay un problema" in response.content.decode()


def test_the_answers_carried_to_the_booking_leave_the_session(screened_client, live_office):
    assert "screened_person" not in screened_client.session
    assert screened_client.session["booking"]["known"] == {"date_of_birth": "1986-06-14", "nationality": "VE"}
