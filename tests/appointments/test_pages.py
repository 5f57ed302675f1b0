"""The booking and manage pages through Django's test client: the journey, each bad input an issue
names, and the query budget of the day and time pages."""

import datetime
import re
import uuid
from typing import Any
from urllib.parse import unquote

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from icalendar import Calendar

from appointments.links import manage_token
from appointments.models import Appointment, Closure, Hold, Slot
from appointments.services.changes import move_appointment
from appointments.services.slots import generate_slots
from eligibility.services import screening_reference
from tests.appointments.conftest import OfficeFactory, make_screening, phone_of, row_locked
from tests.eligibility.test_flow import GUATEMALAN_WITH_PETITION, answer_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_office(published):
    office = OfficeFactory(
        name="Oficina Bogotá Centro",
        hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)],
        max_party_size=3,
    )
    generate_slots(office=office)
    return office


@pytest.fixture
def booking_client(client, live_office, published):
    screening = make_screening(published)
    response = client.get("/es/book/", {"screening": screening_reference(screening)})
    assert response.status_code == 302
    assert response["Location"] == "/es/book/office/"
    client.screening = screening
    return client


def url(name: str, *args: Any, lang: str = "es") -> str:
    with translation.override(lang):
        return reverse(f"appointments:{name}", args=args)


def bookable(office) -> Slot:
    earliest = timezone.now() + datetime.timedelta(hours=office.min_notice_hours + 1)
    return Slot.objects.filter(office=office, starts_at__gte=earliest).order_by("starts_at").first()


def date_parts(prefix: str, day: datetime.date) -> dict[str, str]:
    return {f"{prefix}_0": str(day.day), f"{prefix}_1": str(day.month), f"{prefix}_2": str(day.year)}


def details_data(**overrides: str) -> dict[str, str]:
    data = {
        "full_name": "Nguyễn Thị Lan",
        **date_parts("date_of_birth", datetime.date(1988, 4, 2)),
        "nationality": "VE",
        "document_type": "passport",
        "document_number": "V-123.456.78",
        "document_country": "VE",
        "phone": "300 123 4567",
        "email": "",
        "language": "en",
        "party_size": "1",
        "consent": "on",
    }
    if "document_number" in overrides and "phone" not in overrides:
        data["phone"] = phone_of(str(overrides["document_number"]))  # one number per person
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def choose(client, office, slot=None) -> Slot:
    slot = slot or bookable(office)
    day = slot.local_start().date()
    response = client.post(url("choose-slot", office.slug, day), {"slot": slot.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == url("people")
    return slot


def book(client, office, **details: str) -> Appointment:
    choose(client, office)
    response = client.post(url("details"), details_data(**details))
    assert response.status_code == 302, response.content.decode()[:3000]
    page = client.get(url("check"))
    key = re.search(r'name="key" value="([^"]+)"', page.content.decode()).group(1)
    response = client.post(url("check"), {"key": key})
    assert response.status_code == 302
    assert response["Location"] == url("appointment")
    return Appointment.objects.get(booking_key=key)


def test_the_whole_booking_journey(booking_client, live_office):
    client = booking_client
    # The only office in the country where the person lives: no choice to make.
    assert client.get(url("choose-office"))["Location"] == url("choose-day", live_office.slug)
    offices = client.get(url("choose-office") + "?list=1").content.decode()
    assert "Oficina Bogotá Centro" in offices
    days = client.get(url("choose-day", live_office.slug)).content.decode()
    assert "plazas disponibles" in days
    slot = bookable(live_office)
    times = client.get(url("choose-slot", live_office.slug, slot.local_start().date())).content.decode()
    assert f'value="{slot.pk}"' in times
    assert slot.local_start().strftime("%H:%M") in times
    appointment = book(client, live_office, party_size="2", companion_name_1="Tú Lan", companion_age_1="9")
    assert appointment.full_name == "Nguyễn Thị Lan"
    assert appointment.document_number == "V12345678"
    assert str(appointment.phone.as_e164) == "+573001234567"
    assert appointment.companions == [{"name": "Tú Lan", "age": 9}]
    assert Slot.objects.get(pk=appointment.slot_id).taken == 1  # one place, however many attend
    assert appointment.language == "en"
    page = client.get(url("appointment")).content.decode()
    assert appointment.display_reference in page
    assert "<svg" in page
    assert 'role="img"' in page
    assert "Su cita está reservada" in page
    assert "Enviamos un SMS con esta referencia al +57 300 1234567." in page
    ics = client.get(url("calendar"))
    assert ics["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in ics.content
    assert appointment.display_reference.encode() in ics.content


def test_pages_in_english(booking_client, live_office):
    page = booking_client.get(url("choose-day", live_office.slug, lang="en")).content.decode()
    assert "Choose a day" in page
    assert "places left" in page


def test_time_outside_hours_and_tampered_slot_ids(booking_client, live_office):
    slot = bookable(live_office)
    day = slot.local_start().date()
    for value in ["999999999", "abc", str(slot.pk + 100000), ""]:
        response = booking_client.post(url("choose-slot", live_office.slug, day), {"slot": value})
        assert response.status_code == 400
        assert "Elija" in response.content.decode()
    assert not Hold.objects.exists()


def test_a_slot_from_another_day_is_refused(booking_client, live_office):
    slot = bookable(live_office)
    other_day = slot.local_start().date() + datetime.timedelta(days=1)
    response = booking_client.post(url("choose-slot", live_office.slug, other_day), {"slot": slot.pk})
    assert response.status_code == 400
    assert not Hold.objects.exists()


def test_a_day_beyond_the_horizon_or_in_the_past(booking_client, live_office):
    for day in [timezone.localdate() - datetime.timedelta(days=1), timezone.localdate() + datetime.timedelta(days=60)]:
        response = booking_client.get(url("choose-slot", live_office.slug, day))
        assert response.status_code == 302
        assert response["Location"] == url("choose-day", live_office.slug)
    assert booking_client.get(f"/es/book/office/{live_office.slug}/2026-02-30/").status_code == 404


def test_a_closed_day(booking_client, live_office):
    slot = bookable(live_office)
    day = slot.local_start().date()
    Closure.objects.create(office=live_office, starts_on=day, ends_on=day, reason="Feriado")
    days = booking_client.get(url("choose-day", live_office.slug)).content.decode()
    assert "Cerrado" in days
    response = booking_client.post(url("choose-slot", live_office.slug, day), {"slot": slot.pk})
    assert response.status_code == 302
    assert not Hold.objects.exists()


def test_an_office_that_does_not_serve_the_pathway(booking_client, published):
    other = OfficeFactory(pathways=["temporary-work"])
    generate_slots(office=other)
    assert booking_client.get(url("choose-day", other.slug)).status_code == 404
    assert other.name not in booking_client.get(url("choose-office")).content.decode()


def test_a_full_slot_is_not_offered_and_cannot_be_held(booking_client, live_office):
    slot = bookable(live_office)
    Slot.objects.filter(pk=slot.pk).update(taken=2)
    Hold.objects.create(slot=slot, token=uuid.uuid4(), expires_at=timezone.now() + datetime.timedelta(minutes=5))
    Hold.objects.create(slot=slot, token=uuid.uuid4(), expires_at=timezone.now() + datetime.timedelta(minutes=5))
    page = booking_client.get(url("choose-slot", live_office.slug, slot.local_start().date())).content.decode()
    assert f'value="{slot.pk}"' not in page
    response = booking_client.post(url("choose-slot", live_office.slug, slot.local_start().date()), {"slot": slot.pk})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("", "Este enlace para pedir cita no es válido"),
        ("forged:abc", "Este enlace para pedir cita no es válido"),
    ],
)
def test_booking_without_a_valid_screening(client, live_office, reference, message):
    response = client.get("/es/book/", {"screening": reference} if reference else {})
    assert response.status_code == 400
    assert message in response.content.decode()
    for name, args in [("choose-office", ()), ("choose-day", (live_office.slug,)), ("details", ()), ("check", ())]:
        response = client.get(url(name, *args))
        assert response.status_code == 400
        assert "primero responda las preguntas" in response.content.decode()


def test_a_screening_too_old_to_book(client, live_office, published):
    screening = make_screening(published, created_at=timezone.now() - datetime.timedelta(days=8))
    response = client.get("/es/book/", {"screening": screening_reference(screening)})
    assert response.status_code == 400
    assert "Sus respuestas tienen más de 7 días" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12", "Ingrese un número de celular válido"),
        ("phone", "601 3581515", "celular"),  # a Bogotá landline cannot receive SMS
        ("date_of_birth", "future", "anterior a hoy"),
        ("date_of_birth", "minor", "18 años o más"),
        ("date_of_birth_0", "9" * 25, "Escriba la fecha en números"),
        ("date_of_birth_1", "13", "Escriba una fecha que exista"),
        ("party_size", "4", "como máximo a 3 personas"),
        ("consent", None, "aceptar el aviso de privacidad"),
        ("full_name", "x" * 151, "como máximo 150 caracteres"),
        ("document_number", "9" * 31, "como máximo 30 caracteres"),
        ("document_number", "ﬃ" * 11, "como máximo 30 caracteres"),  # 33 letters once folded (NFKC)
        ("email", "a" * 250 + "@example.com", "como máximo 254 caracteres"),
        ("companion_name_1", "n" * 151, "como máximo 150 caracteres"),
        ("full_name", "12345", "con letras"),
        ("email", "lan@", "correo electrónico"),
        ("nationality", "XX", "Seleccione un país"),
        ("companion_age_1", "", "edad de la persona 2"),
    ],
)
def test_details_bad_input(booking_client, live_office, field, value, message):
    slot = choose(booking_client, live_office)
    data = details_data(party_size="2", companion_name_1="Tú", companion_age_1="9")
    if field == "date_of_birth" and value in ("future", "minor"):
        day = slot.local_start().date()
        born = day + datetime.timedelta(days=1) if value == "future" else day.replace(year=day.year - 17)
        data.update(date_parts("date_of_birth", born))
    else:
        data[field] = value
        data = {k: v for k, v in data.items() if v is not None}
    response = booking_client.post(url("details"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page, re.findall(r'class="error-message">(.*?)</p>', page, re.S)
    assert 'class="error-summary"' in page
    assert not Appointment.objects.exists()


def test_duplicate_document(booking_client, live_office, published):
    book(booking_client, live_office)
    # The same person, from another phone, with another screening.

    other = Client()
    other.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    choose(other, live_office, slot=Slot.objects.filter(office=live_office).order_by("-starts_at").first())
    other.post(url("details"), details_data(document_number="v12345678"))
    key = re.search(r'name="key" value="([^"]+)"', other.get(url("check")).content.decode()).group(1)
    response = other.post(url("check"), {"key": key})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Ya existe una cita para este documento" in page
    assert "Nguyễn" not in page
    assert Appointment.objects.count() == 1


def test_confirm_pressed_twice_or_replayed(booking_client, live_office):
    choose(booking_client, live_office)
    booking_client.post(url("details"), details_data())
    key = re.search(r'name="key" value="([^"]+)"', booking_client.get(url("check")).content.decode()).group(1)
    first = booking_client.post(url("check"), {"key": key})
    second = booking_client.post(url("check"), {"key": key})
    assert first.status_code == second.status_code == 302
    assert second["Location"] == url("appointment")
    assert Appointment.objects.count() == 1
    # Back to the check page after booking: the appointment is shown, nothing is booked again.
    assert booking_client.get(url("check"))["Location"] == url("appointment")


def test_a_closed_time_keeps_the_details_while_the_hold_lasts(booking_client, live_office):
    slot = choose(booking_client, live_office)
    booking_client.post(url("details"), details_data(full_name="Ana Lucía Gómez"))
    day = slot.local_start().date()
    Closure.objects.create(office=live_office, starts_on=day, ends_on=day, reason="Cierre")  # closed meanwhile
    key = re.search(r'name="key" value="([^"]+)"', booking_client.get(url("check")).content.decode()).group(1)
    response = booking_client.post(url("check"), {"key": key}, follow=True)
    assert response.redirect_chain[-1][0] == url("choose-day", live_office.slug)
    assert not Appointment.objects.exists()
    # The details come along to the next time chosen: the hold they were typed with still lasts.
    choose(booking_client, live_office, slot=Slot.objects.filter(office=live_office).order_by("-starts_at").first())
    assert 'value="Ana Lucía Gómez"' in booking_client.get(url("details")).content.decode()


def test_query_budget_of_the_day_and_time_pages(booking_client, live_office):
    def count(path: str) -> int:
        cache.clear()  # the uncached path: what a page costs when the cache has nothing for it
        with CaptureQueriesContext(connection) as queries:
            assert booking_client.get(path).status_code == 200
        return len(queries)

    slot = bookable(live_office)
    day_page = url("choose-day", live_office.slug)
    time_page = url("choose-slot", live_office.slug, slot.local_start().date())
    before = (count(day_page), count(time_page))
    live_office.slot_minutes = 5
    live_office.save()
    generate_slots(office=live_office)
    assert Slot.objects.filter(office=live_office).count() > 600
    assert (count(day_page), count(time_page)) == before


# ---------------------------------------------------------------------------------------------
# Manage
# ---------------------------------------------------------------------------------------------
def lookup(client, reference: str, born: datetime.date):
    return client.post(url("manage"), {"reference": reference, **date_parts("date_of_birth", born)})


def test_manage_by_reference_and_date_of_birth(booking_client, live_office, client):
    appointment = book(booking_client, live_office)
    cache.clear()

    fresh = Client()
    wrong_reference = lookup(fresh, "ZZZ-ZZZ-ZZZ", datetime.date(1988, 4, 2))
    wrong_birth = lookup(fresh, appointment.reference.lower(), datetime.date(1988, 4, 3))
    assert wrong_reference.status_code == wrong_birth.status_code == 400
    message = "No encontramos una cita con esta referencia y fecha de nacimiento."
    assert message in wrong_reference.content.decode()
    assert message in wrong_birth.content.decode()
    assert fresh.get(url("appointment"))["Location"] == url("manage")
    right = lookup(fresh, appointment.display_reference.lower(), datetime.date(1988, 4, 2))
    assert right["Location"] == url("appointment")
    assert appointment.display_reference in fresh.get(url("appointment")).content.decode()


def test_a_lookup_with_an_absurd_date_is_an_error_not_a_crash(client):
    cache.clear()
    response = client.post(
        url("manage"),
        {"reference": "ABC-DEF-GHJ", "date_of_birth_0": "9" * 25, "date_of_birth_1": "1", "date_of_birth_2": "1990"},
    )
    assert response.status_code == 400
    assert "Escriba la fecha en números" in response.content.decode()


def test_manage_lookups_are_rate_limited(client, settings):
    cache.clear()
    settings.MANAGE_LOOKUP_RATE = "3/m"
    codes = [lookup(client, "ABCDEFGHJ", datetime.date(1990, 1, 1)).status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    # The form again with what was typed, saying when to try again (the window's end).
    data = {"reference": "ABCDEFGHJ", **date_parts("date_of_birth", datetime.date(1990, 1, 1))}
    response = client.post(url("manage", lang="en"), data)
    assert response.status_code == 429
    html = response.content.decode()
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 60
    assert "Too many attempts from this connection. Please try again in 1 minute." in html
    assert 'value="ABCDEFGHJ"' in html
    cache.clear()


def test_cancel_with_a_confirmation_step(booking_client, live_office):
    appointment = book(booking_client, live_office)
    page = booking_client.get(url("cancel"))
    assert page.status_code == 200
    html = page.content.decode()
    # "No" keeps the appointment, as a plain link back to it.
    assert f'<a class="btn btn-outline-primary btn-lg" href="{url("appointment")}">No, mantener mi cita</a>' in html
    assert Appointment.objects.get().status == "booked"
    response = booking_client.post(url("cancel"), {"revision": appointment.revision}, follow=True)
    html = response.content.decode()
    # One neutral message, the ticket visibly void, and the next step.
    assert html.count("cancelada") == 1, "one message, not a second one above it"
    assert "Esta cita está cancelada. Su lugar queda libre para otra persona." in html
    assert '<p class="ticket__void" aria-hidden="true">CANCELADA</p>' in html
    assert 'class="ticket ticket--void"' in html
    assert 'href="/es/questions/"' in html  # book again: the questions
    assert Appointment.objects.get().status == "cancelled"
    assert Slot.objects.get(pk=appointment.slot_id).taken == 0


def test_after_cancelling_the_calendar_file_cancels_the_event(booking_client, live_office):
    appointment = book(booking_client, live_office)
    added = booking_client.get(url("calendar"))
    assert added["Content-Type"] == "text/calendar; charset=utf-8; method=PUBLISH"
    booking_client.post(url("cancel"), {"revision": appointment.revision})
    page = booking_client.get(url("appointment")).content.decode()
    assert f'href="{url("calendar")}"' in page  # offered where the cancellation is shown
    response = booking_client.get(url("calendar"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8; method=CANCEL"
    assert response["Content-Disposition"] == f'attachment; filename="cita-{appointment.reference}.ics"'
    (before,) = Calendar.from_ical(added.content).events
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.events
    assert (calendar["METHOD"], event["STATUS"]) == ("CANCEL", "CANCELLED")
    assert event["UID"] == before["UID"]
    assert event["SEQUENCE"] > before["SEQUENCE"]
    assert event["DTSTART"].dt == before["DTSTART"].dt


def test_move_and_the_old_link_stops_working(booking_client, live_office, client):
    appointment = book(booking_client, live_office)
    link = url("manage-link", manage_token(appointment))
    assert client.get(link)["Location"] == url("appointment")
    new = Slot.objects.filter(office=live_office).order_by("-starts_at").first()
    day = new.local_start().date()
    assert f'href="{url("move-slot", day)}"' in booking_client.get(url("move-day")).content.decode()
    response = booking_client.post(url("move-slot", day), {"slot": new.pk})
    assert response["Location"] == url("move-confirm")
    response = booking_client.post(url("move-confirm"), {"revision": appointment.revision}, follow=True)
    assert "Su cita se cambió" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.slot_id == new.pk

    stranger = Client()
    response = stranger.get(link)
    assert response.status_code == 400
    assert "Este enlace ya no es válido" in response.content.decode()
    assert stranger.get(url("appointment"))["Location"] == url("manage")
    assert client.get(url("manage-link", "not-a-token")).status_code == 400


def test_the_short_link_of_the_sms_continues_in_the_applicant_s_language(booking_client, live_office, client):
    appointment = book(booking_client, live_office)  # language "en" in details_data
    token = manage_token(appointment)
    response = client.get(f"/m/{token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/en/manage/link/{token}/"
    assert client.get(response["Location"])["Location"] == "/en/manage/appointment/"
    assert appointment.display_reference in client.get("/en/manage/appointment/").content.decode()
    for bad in ("1-0-xxxxxxxxxxxxxxxx", "nonsense", "9" * 40 + "-1-a"):
        follow = client.get(f"/m/{bad}/", follow=True)
        assert follow.status_code == 400


def test_a_manage_link_after_a_cancellation(booking_client, live_office, client):
    appointment = book(booking_client, live_office)
    link = url("manage-link", manage_token(appointment))
    booking_client.post(url("cancel"), {"revision": appointment.revision})
    response = client.get(link)
    assert response.status_code == 400
    assert "Este enlace ya no es válido" in response.content.decode()


def test_a_change_from_an_old_page_is_refused(booking_client, live_office):
    appointment = book(booking_client, live_office)
    new = Slot.objects.filter(office=live_office).order_by("-starts_at").first()
    move_appointment(appointment_id=appointment.pk, slot_id=new.pk)
    response = booking_client.post(url("cancel"), {"revision": 0}, follow=True)
    assert "Esta cita cambió mientras tanto" in response.content.decode()
    assert Appointment.objects.get().status == "booked"


def test_the_times_page_shows_a_change_as_soon_as_it_is_committed(
    booking_client, live_office, django_capture_on_commit_callbacks
):
    slot = bookable(live_office)
    page = url("choose-slot", live_office.slug, slot.local_start().date())
    assert "2 plazas disponibles" in booking_client.get(page).content.decode()  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        choose(booking_client, live_office, slot=slot)
    html = booking_client.get(page).content.decode()
    label = re.search(rf'value="{slot.pk}".*?time-choice__places">([^<]+)<', html, re.S)[1]
    assert label == "1 plaza disponible"


def test_the_times_page_works_when_the_cache_fails(booking_client, live_office, monkeypatch):
    from appointments import selectors

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("cache down")

            return fail

    monkeypatch.setattr(selectors, "cache", Down())
    slot = bookable(live_office)
    response = booking_client.get(url("choose-slot", live_office.slug, slot.local_start().date()))
    assert response.status_code == 200
    assert f'value="{slot.pk}"' in response.content.decode()


def test_a_wrong_reference_and_a_wrong_date_of_birth_do_the_same_work(booking_client, live_office):
    appointment = book(booking_client, live_office)
    cache.clear()

    def queries(reference: str, born: datetime.date) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = lookup(Client(), reference, born)
        assert response.status_code == 400
        return [q["sql"].split(" WHERE ")[0] for q in captured]

    assert queries("ZZZ-ZZZ-ZZZ", datetime.date(1988, 4, 2)) == queries(
        appointment.reference, datetime.date(1988, 4, 3)
    )


@pytest.mark.django_db(transaction=True)
def test_a_lock_held_too_long_gives_a_busy_page_not_an_error(booking_client, live_office, settings):
    slot = bookable(live_office)
    settings.BOOKING_LOCK_TIMEOUT_MS = 100
    with row_locked(slot):
        response = booking_client.post(
            url("choose-slot", live_office.slug, slot.local_start().date()), {"slot": slot.pk}
        )
    assert response.status_code == 429
    assert response["Retry-After"] == "5"
    assert "Muchas personas están reservando en este momento" in response.content.decode()
    assert not Hold.objects.exists()


def test_choosing_times_is_rate_limited_per_connection(booking_client, live_office, settings):
    cache.clear()
    settings.HOLD_RATE = "2/m"
    slot = bookable(live_office)
    page = url("choose-slot", live_office.slug, slot.local_start().date())
    codes = [booking_client.post(page, {"slot": slot.pk}).status_code for _ in range(3)]
    assert codes == [302, 302, 429]
    assert Hold.objects.count() == 1
    cache.clear()


NO_JOB_OFFER = "Temporary work visas need a job offer from a US employer."  # a reason the result gives


def screened_in(client, office) -> str:
    """Answer the questions in this browser (where the office is) and return its booking link."""
    office.country = "GT"  # where the person answering lives
    office.save(update_fields=["country"])
    answer_all(client, GUATEMALAN_WITH_PETITION)
    client.post("/en/questions/check/")
    html = client.get("/en/questions/result/").content.decode()
    assert NO_JOB_OFFER in html
    return unquote(re.search(r'href="/en/book/\?screening=([^"]+)"', html).group(1))


def test_booking_drops_the_reasons_from_the_result_this_session_keeps(client, live_office, published):
    """A booking minimises its screening (no reasons: they quote the answers); the result page of
    the session that booked shows what the screening keeps, not a copy of the reasons."""
    reason = NO_JOB_OFFER
    link = screened_in(client, live_office)
    assert client.get("/es/book/", {"screening": link})["Location"] == "/es/book/office/"
    appointment = book(client, live_office, phone="5123 4567")
    assert appointment.screening.minimised_at is not None
    html = client.get("/en/questions/result/").content.decode()
    assert "This route may fit you" in html
    assert reason not in html
    assert "A relative in the United States" not in html, "an eligible route's reasons go too"
    assert all("reasons" not in outcome for outcome in client.session["screening"]["outcomes"].values())


def test_opening_the_appointment_in_the_session_that_answered_drops_its_reasons(client, live_office, published):
    """Booked from another browser with the link: the session that answered keeps its copy of the
    result until it opens that appointment (any page that shows it: here the lookup), which then
    drops the reasons as the booking dropped them from the screening."""
    link = screened_in(client, live_office)
    elsewhere = Client()
    assert elsewhere.get("/es/book/", {"screening": link})["Location"] == "/es/book/office/"
    appointment = book(elsewhere, live_office, phone="5123 4567")
    assert NO_JOB_OFFER in client.get("/en/questions/result/").content.decode()  # its own copy, until then
    assert lookup(client, appointment.reference, appointment.date_of_birth)["Location"] == url("appointment")
    html = client.get("/en/questions/result/").content.decode()
    assert "This route may fit you" in html
    assert NO_JOB_OFFER not in html
