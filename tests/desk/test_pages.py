"""The desk's pages: today's queue with its counts, find by reference, name, document or phone,
the scan field, actions through the pages, printing, and the calling screen."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, Slot
from core.services import ROLE_SUPERVISOR
from desk import services
from desk.models import Counter, DeskSettings, Ticket
from tests.appointments.conftest import make_screening
from tests.desk.conftest import book_today, make_office, staff_of

pytestmark = pytest.mark.django_db


def queue_url(office) -> str:
    return f"/admin/desk/ticket/queue/{office.pk}/"


@pytest.fixture
def desk(desk_office):
    return staff_of(desk_office)


def test_the_queue_lists_the_day_with_its_counts(desk_office, published, desk):
    client, user = desk
    people = [book_today(desk_office, published, n, full_name=f"Persona {n}") for n in (1, 2, 3, 4)]
    services.check_in(office=desk_office, appointment_id=people[0].pk, actor=user)
    ticket = services.check_in(office=desk_office, appointment_id=people[1].pk, actor=user)
    services.call_ticket(
        office=desk_office, ticket_id=ticket.pk, counter_id=Counter.objects.filter(office=desk_office)[0].pk, actor=user
    )
    response = client.get(queue_url(desk_office))
    page = response.content.decode()
    assert response.status_code == 200
    for person in people:
        assert person.display_reference in page
        assert person.full_name in page
    assert "A-001" in page
    assert "A-002" in page
    counts = response.context["counts"]
    assert (counts.expected, counts.arrived, counts.waiting, counts.at_counter, counts.served, counts.no_show) == (
        4,
        2,
        1,
        1,
        0,
        0,
    )


def test_the_chooser_opens_the_only_office(desk_office, desk):
    client, _ = desk
    response = client.get("/admin/desk/ticket/")
    assert response.status_code == 302
    assert response["Location"] == queue_url(desk_office)


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ("reference", "display"),
        ("reference", "lower"),
        ("reference", "plain"),
        ("name", "part"),
        ("document", "spaced"),
        ("phone", "national"),
    ],
)
def test_find_a_person(desk_office, published, desk, typed, field):
    client, _ = desk
    person = book_today(
        desk_office, published, 7, full_name="Yolanda Quiñónez", document_number="AB 123-456", phone="+573001234567"
    )
    other = book_today(desk_office, published, 8, phone="+573009998877")
    text = {
        ("reference", "display"): person.display_reference,
        ("reference", "lower"): person.display_reference.lower(),
        ("reference", "plain"): person.reference,
        ("name", "part"): "quiñónez",
        ("document", "spaced"): "ab123 456",
        ("phone", "national"): "300 123 4567",
    }[(typed, field)]
    response = client.post(f"{queue_url(desk_office)}find/", {"q": text})
    assert response.status_code == 200
    found = [row.appointment.pk for row in response.context["found"]]
    assert person.pk in found
    assert other.pk not in found  # another name, document and phone


def test_a_scan_of_a_reference_offers_check_in(desk_office, published, desk):
    client, _ = desk
    person = book_today(desk_office, published, 7)
    # A USB scanner types the QR code's content (the reference) and presses Enter.
    response = client.post(f"{queue_url(desk_office)}find/", {"q": person.reference})
    page = response.content.decode()
    assert [row.appointment.pk for row in response.context["found"]] == [person.pk]
    assert f"/check-in/{person.pk}/" in page


@pytest.mark.parametrize("text", ["", "   ", "x" * 101, "zz", "%", "ZZZ-ZZZ-ZZZ", "\x00abc", "Per\x00sona 7"])
def test_find_with_nothing_useful_answers_plainly(desk_office, published, desk, text):
    client, _ = desk
    book_today(desk_office, published, 7)
    response = client.post(f"{queue_url(desk_office)}find/", {"q": text})
    assert response.status_code in {200, 400}
    found = response.context.get("found")  # a NUL: the 400 page has none
    assert not found


def test_find_is_never_a_get(desk_office, desk):
    client, _ = desk
    response = client.get(f"{queue_url(desk_office)}find/", {"q": "Persona"})
    assert response.status_code == 302  # back to the queue: nothing typed goes into a URL


def test_check_in_call_serve_and_no_show_through_the_pages(desk_office, published, desk):
    client, user = desk
    first, second = book_today(desk_office, published, 1), book_today(desk_office, published, 2)
    response = client.post(f"{queue_url(desk_office)}check-in/{first.pk}/", follow=True)
    assert "Checked in: ticket A-001." in response.content.decode()
    response = client.post(f"{queue_url(desk_office)}check-in/{first.pk}/", follow=True)
    assert "already checked in, with ticket A-001" in response.content.decode()
    counter = Counter.objects.get(office=desk_office, number=3)
    response = client.post(f"{queue_url(desk_office)}call-next/", {"counter": counter.pk}, follow=True)
    assert "Ticket A-001 called to counter 3." in response.content.decode()
    ticket = Ticket.objects.get(appointment=first)
    response = client.post(f"{queue_url(desk_office)}ticket/{ticket.pk}/serve/", follow=True)
    assert "Ticket A-001 served." in response.content.decode()
    response = client.post(f"{queue_url(desk_office)}ticket/{ticket.pk}/bogus/", follow=True)
    assert "Unknown action." in response.content.decode()
    client.post(f"{queue_url(desk_office)}check-in/{second.pk}/")
    second_ticket = Ticket.objects.get(appointment=second)
    client.post(f"{queue_url(desk_office)}ticket/{second_ticket.pk}/no-show/")
    assert dict(Appointment.objects.values_list("pk", "status")) == {first.pk: "served", second.pk: "no_show"}
    assert set(Appointment.objects.get(pk=first.pk).events.values_list("actor", flat=True)) == {None, user.pk}


@pytest.mark.parametrize("counter", ["", "abc", "²", "999999", "-1"])
def test_call_next_with_a_bad_counter_changes_nothing(desk_office, published, desk, counter):
    client, user = desk
    person = book_today(desk_office, published, 1)
    services.check_in(office=desk_office, appointment_id=person.pk, actor=user)
    response = client.post(f"{queue_url(desk_office)}call-next/", {"counter": counter}, follow=True)
    assert "Choose one of this office&#x27;s counters." in response.content.decode()
    assert Appointment.objects.get(pk=person.pk).status == "checked_in"


def test_actions_are_posts_only(desk_office, published, desk):
    client, _ = desk
    person = book_today(desk_office, published, 1)
    assert client.get(f"{queue_url(desk_office)}check-in/{person.pk}/").status_code == 405
    assert Appointment.objects.get(pk=person.pk).status == "booked"


def test_the_ticket_slip_and_day_list_print_only_what_the_desk_needs(desk_office, published, desk):
    client, user = desk
    person = book_today(desk_office, published, 1, phone="+573001112233", document_number="SECRET99")
    ticket = services.check_in(office=desk_office, appointment_id=person.pk, actor=user)
    slip = client.get(f"{queue_url(desk_office)}ticket/{ticket.pk}/print/").content.decode()
    assert "A-001" in slip
    for private in (person.full_name, "SECRET99", "3001112233", person.reference):
        assert private not in slip
    day_list = client.get(f"{queue_url(desk_office)}print/").content.decode()
    assert person.full_name in day_list
    assert "SECRET99" not in day_list
    assert "3001112233" not in day_list


@pytest.mark.parametrize(
    "day", ["2026-02-30", "9999-99-99", "yesterday", "²026-01-01", "", "0001-01-01", "9999-12-31", "1-1-1"]
)
def test_a_bad_day_shows_today(desk_office, desk, day):
    client, _ = desk
    response = client.get(queue_url(desk_office), {"day": day})
    assert response.status_code == 200
    assert response.context["day"] == desk_office.local_today(timezone.now())
    assert client.get(f"{queue_url(desk_office)}print/", {"day": day}).status_code == 200


def test_the_calling_screen_shows_called_tickets_and_nothing_personal(desk_office, published, desk, client):
    _, user = desk
    person = book_today(desk_office, published, 1, full_name="Nombre Privado")
    ticket = services.check_in(office=desk_office, appointment_id=person.pk, actor=user)
    counter = Counter.objects.get(office=desk_office, number=2)
    key = DeskSettings.objects.get(office=desk_office).screen_key
    before = client.get(f"/screen/{key}/").content.decode()
    assert "A-001" not in before
    services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=counter.pk, actor=user)
    response = client.get(f"/screen/{key}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "A-001" in page
    assert '<p class="screen__counter">2</p>' in page
    assert response["Refresh"] == "5"
    assert "Nombre Privado" not in page
    assert person.display_reference not in page
    assert response["Cache-Control"] == "no-store"


def test_the_screen_link_can_be_rotated_and_the_old_one_stops(desk_office, desk, client):
    staff, _ = desk
    old = DeskSettings.objects.get(office=desk_office).screen_key
    assert client.get(f"/screen/{old}/").status_code == 200
    response = staff.post(f"{queue_url(desk_office)}screen/", follow=True)
    assert "The calling screen has a new link" in response.content.decode()
    new = DeskSettings.objects.get(office=desk_office).screen_key
    assert new != old
    assert client.get(f"/screen/{old}/").status_code == 404
    assert client.get(f"/screen/{new}/").status_code == 200
    assert desk_office.events.filter(action="screen_link_rotated").count() == 1


@pytest.mark.parametrize("key", ["x", "%C2%B2", "a" * 500, "%00", "a%00b", "..%2F"])
def test_a_wrong_screen_key_is_a_404(db, client, key):
    assert client.get(f"/screen/{key}/").status_code == 404


def test_the_queue_of_a_500_appointment_day_costs_a_bounded_number_of_queries(published):
    office = make_office("Busy office")
    Slot.objects.filter(office=office).update(capacity=20)
    start, end = services.day_bounds(office, office.local_today(timezone.now()))
    slots = list(Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end))
    screening = make_screening(published)
    now = timezone.now()
    Appointment.objects.bulk_create(
        Appointment(
            reference=f"Q{n:08d}",
            office=office,
            slot=slots[n % len(slots)],
            screening=screening,
            booking_key=uuid.uuid4(),
            full_name=f"Persona {n}",
            date_of_birth=datetime.date(1990, 1, 1),
            nationality="VE",
            document_type="passport",
            document_number=f"BULK{n}",
            document_country="VE",
            phone="+573001234567",
            language="es",
            consent_at=now,
        )
        for n in range(500)
    )
    client, user = staff_of(office)
    for appointment in Appointment.objects.filter(office=office)[:50]:
        services.check_in(office=office, appointment_id=appointment.pk, actor=user)
    client.get(queue_url(office))  # warm the session and permission caches like a real desk
    with CaptureQueriesContext(connection) as queries:
        response = client.get(queue_url(office))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 500
    assert len(queries) <= 15, [q["sql"][:120] for q in queries]


def test_supervisors_see_every_office_s_queue(desk_office, other_office):
    supervisor, _ = staff_of(name="boss", role=ROLE_SUPERVISOR)
    assert supervisor.get(queue_url(desk_office)).status_code == 200
    assert supervisor.get(queue_url(other_office)).status_code == 200
    response = supervisor.get("/admin/desk/ticket/", {"office": other_office.pk})
    assert response["Location"] == queue_url(other_office)
