"""Offices, closures and appointments in the admin: staff see only their offices, closures list
the appointments they leave behind, and cancelling goes through the service."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment, Closure, Office, OpeningHours, Slot
from appointments.services.booking import book_appointment
from appointments.services.slots import generate_slots
from core.services import ROLE_OFFICE_STAFF, ROLE_PROGRAM_ADMIN, ROLE_SUPERVISOR, ensure_roles
from tests.appointments.conftest import MANAGEMENT, OfficeFactory, details, key, make_screening, office_form
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def user_in(role: str, name: str) -> tuple[Client, object]:
    ensure_roles()
    user = get_user_model().objects.create_user(username=name, password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client(headers={"accept-language": "en"})
    sign_in(client, user)
    return client, user


@pytest.fixture
def two_offices(published):
    now = timezone.now()
    offices = [OfficeFactory(name="North office"), OfficeFactory(name="South office")]
    appointments = []
    for n, office in enumerate(offices):
        generate_slots(office=office, now=now)
        slot = Slot.objects.filter(office=office, starts_at__gte=now + datetime.timedelta(days=2)).first()
        appointments.append(
            book_appointment(
                screening=make_screening(published),
                slot_id=slot.pk,
                # One phone number for both: the search by phone still shows only the office's own.
                details=details(document_number=f"ADM{n}", full_name=f"Persona {office.name}", phone="+573001234567"),
                booking_key=key(),
            )
        )
    return offices, appointments


def test_office_staff_see_only_their_offices(two_offices):
    (north, _), (in_north, in_south) = two_offices
    staff, user = user_in(ROLE_OFFICE_STAFF, "counter")
    north.staff.add(user)
    listing = staff.get("/admin/appointments/appointment/").content.decode()
    assert in_north.display_reference in listing
    assert in_south.display_reference not in listing
    assert staff.get(f"/admin/appointments/appointment/{in_north.pk}/change/").status_code == 200
    assert staff.get(f"/admin/appointments/appointment/{in_south.pk}/change/").status_code == 404
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    listing = supervisor.get("/admin/appointments/appointment/").content.decode()
    assert in_north.display_reference in listing
    assert in_south.display_reference in listing


def test_staff_find_an_appointment_by_its_printed_reference(two_offices):
    (north, _), (in_north, _) = two_offices
    staff, user = user_in(ROLE_OFFICE_STAFF, "counter")
    north.staff.add(user)
    typed = in_north.display_reference.lower()
    listing = staff.get("/admin/appointments/appointment/", {"q": typed}).content.decode()
    assert in_north.display_reference in listing
    other = staff.get("/admin/appointments/appointment/", {"q": "ZZZ-ZZZ-ZZZ"}).content.decode()
    assert in_north.display_reference not in other


def test_cancel_action_goes_through_the_service(two_offices):
    _, (in_north, in_south) = two_offices
    admin, user = user_in(ROLE_PROGRAM_ADMIN, "programme")
    response = admin.post(
        "/admin/appointments/appointment/",
        {"action": "cancel", "_selected_action": [in_north.pk]},
        follow=True,
    )
    assert "1 appointment cancelled." in response.content.decode()
    in_north.refresh_from_db()
    assert in_north.status == "cancelled"
    assert in_north.slot.taken == 0
    assert list(in_north.events.values_list("action", "actor")) == [("booked", None), ("cancelled", user.pk)]
    assert Appointment.objects.get(pk=in_south.pk).status == "booked"


def test_a_closure_saved_in_the_admin_closes_slots_and_lists_who_is_left(two_offices):
    (north, south), (in_north, _) = two_offices
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    day = in_north.slot.local_start().date()
    response = supervisor.post(
        "/admin/appointments/closure/add/",
        {"office": north.pk, "starts_on": day, "ends_on": day, "reason": "Power cut"},
    )
    assert response.status_code == 302
    in_north.slot.refresh_from_db()
    assert in_north.slot.capacity == 0
    assert Appointment.objects.get(pk=in_north.pk).status == "booked"
    closure = Closure.objects.get()
    page = supervisor.get(f"/admin/appointments/closure/{closure.pk}/change/").content.decode()
    assert in_north.display_reference in page
    assert in_north.slot.local_start().strftime("%Y-%m-%d %H:%M") in page
    other_days = Slot.objects.filter(office=north).exclude(pk=in_north.slot_id)
    assert not [s for s in other_days if s.local_start().date() == day]
    assert Slot.objects.filter(office=south, capacity__gt=0).exists()


def test_a_closure_of_every_office_lists_only_the_appointments_staff_may_see(two_offices):
    (north, _), (in_north, in_south) = two_offices
    day = in_north.slot.local_start().date()
    other_day = in_south.slot.local_start().date()
    closure = Closure.objects.create(
        office=None, starts_on=min(day, other_day), ends_on=max(day, other_day), reason="Strike"
    )
    staff, user = user_in(ROLE_OFFICE_STAFF, "counter")
    north.staff.add(user)
    page = staff.get(f"/admin/appointments/closure/{closure.pk}/change/").content.decode()
    assert in_north.display_reference in page
    assert in_south.display_reference not in page
    assert "South office" not in page  # not even in a filter or a choice list
    listing = staff.get("/admin/appointments/appointment/").content.decode()
    assert "South office" not in listing


def test_appointment_times_in_the_admin_are_the_office_s(two_offices):
    _, (in_north, _) = two_offices
    admin, _ = user_in(ROLE_PROGRAM_ADMIN, "programme")
    page = admin.get(f"/admin/appointments/appointment/{in_north.pk}/change/").content.decode()
    booked = in_north.created_at.astimezone(in_north.office.zone).strftime("%Y-%m-%d %H:%M")
    assert f"{booked} (Colombia time)" in page  # words, not a tz database name


def test_a_closure_ending_before_it_starts_is_refused(two_offices):
    (north, _), _ = two_offices
    supervisor, _ = user_in(ROLE_SUPERVISOR, "boss")
    response = supervisor.post(
        "/admin/appointments/closure/add/",
        {"office": north.pk, "starts_on": "2026-12-10", "ends_on": "2026-12-09", "reason": "Backwards"},
    )
    assert response.status_code == 200
    assert "The last day cannot be before the first day." in response.content.decode()
    assert not Closure.objects.exists()


def test_changing_opening_hours_in_the_admin_regenerates_the_slots(two_offices):
    (north, _), (in_north, _) = two_offices
    admin, _ = user_in(ROLE_PROGRAM_ADMIN, "programme")
    hours = list(OpeningHours.objects.filter(office=north))
    data = {
        "name": north.name,
        "slug": north.slug,
        "country": "CO",
        "city": north.city,
        "address_en": "x",
        "address_es": "x",
        "time_zone": "America/Bogota",
        "active": "on",
        "pathways": [p.pk for p in north.pathways.all()],
        "slot_minutes": 60,
        "min_notice_hours": 24,
        "horizon_days": 14,
        "hold_minutes": 10,
        "max_party_size": 4,
        "reminder_hours": 24,
        "allocation": "first_come",
        "hours-TOTAL_FORMS": len(hours),
        "hours-INITIAL_FORMS": len(hours),
        "hours-MIN_NUM_FORMS": 0,
        "hours-MAX_NUM_FORMS": 1000,
        # The desk's inlines (desk/admin.py) and the read-only history.
        **{f"{prefix}-{name}": value for prefix in ("desk", "counters", "events") for name, value in MANAGEMENT},
    }
    for i, h in enumerate(hours):
        data.update(
            {
                f"hours-{i}-id": h.pk,
                f"hours-{i}-office": north.pk,
                f"hours-{i}-weekday": h.weekday,
                f"hours-{i}-opens": "08:00",
                f"hours-{i}-closes": "12:00",
                f"hours-{i}-capacity": 2,
            }
        )
    response = admin.post(f"/admin/appointments/office/{north.pk}/change/", data, follow=True)
    assert f"{north.name}: " in response.content.decode()
    assert "slots created" in response.content.decode()
    free = Slot.objects.filter(office=north, taken=0)
    assert {s.ends_at - s.starts_at for s in free} == {datetime.timedelta(hours=1)}
    assert Slot.objects.filter(pk=in_north.slot_id).exists()  # the booked one is kept


def test_office_changes_are_in_the_office_s_history_for_good(two_offices):
    (north, _), _ = two_offices
    admin, admin_user = user_in(ROLE_PROGRAM_ADMIN, "programme")
    newcomer = get_user_model().objects.create_user(username="newcomer", is_staff=True)
    data = office_form(
        north,
        name="North office renamed",
        staff=[newcomer.pk],
        **{"counters-TOTAL_FORMS": 1, "counters-0-number": 1, "counters-0-active": "on", "counters-0-office": north.pk},
    )
    response = admin.post(f"/admin/appointments/office/{north.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = north.events.get(action="changed")
    assert event.actor == admin_user
    assert event.data["fields"]["name"] == "North office renamed"
    assert event.data["staff"] == {"added": ["newcomer"], "removed": []}
    assert event.data["counter"]["added"] == ["Counter 1"]
    assert "hours" not in event.data["fields"]
    closure = admin.post(
        "/admin/appointments/closure/add/",
        {"office": north.pk, "starts_on": "2027-03-01", "ends_on": "2027-03-02", "reason": "Inventory"},
    )
    assert closure.status_code == 302
    added = north.events.get(action="closure_added")
    assert added.data["closure"] == {"first_day": "2027-03-01", "last_day": "2027-03-02", "reason": "Inventory"}
    page = admin.get(f"/admin/appointments/office/{north.pk}/change/").content.decode()
    assert "Closure added" in page  # the action by its name, not its code
    assert "staff: (added: newcomer · removed: -)" in page  # details in words, not JSON
    assert 'name="events-0-action"' not in page  # shown, not editable
    # Nobody may change or delete the trail, program administrators included.
    assert not admin_user.has_perm("appointments.change_officeevent")
    assert not admin_user.has_perm("appointments.delete_appointmentevent")
    assert admin.get(f"/admin/appointments/officeevent/{event.pk}/change/").status_code == 404


@pytest.mark.parametrize(
    "typed",
    ["persona north", "ADM0", "adm-0", "\uff21\uff24\uff2d\uff10", "+57 300 123 4567", "300 123 4567"],
)
def test_staff_find_an_appointment_by_name_document_or_phone(two_offices, typed):
    (north, _), (in_north, in_south) = two_offices
    staff, user = user_in(ROLE_OFFICE_STAFF, "counter")
    north.staff.add(user)
    listing = staff.get("/admin/appointments/appointment/", {"q": typed}).content.decode()
    assert in_north.display_reference in listing
    assert in_south.display_reference not in listing  # another office's, whatever it matches


def test_family_members_are_listed_by_name_and_age(two_offices):
    _, (in_north, _) = two_offices
    Appointment.objects.filter(pk=in_north.pk).update(
        party_size=3, companions=[{"name": "Lucía", "age": 7}, {"name": "Tomás", "age": 12}]
    )
    admin, _ = user_in(ROLE_PROGRAM_ADMIN, "programme")
    page = admin.get(f"/admin/appointments/appointment/{in_north.pk}/change/").content.decode()
    assert "Lucía (7); Tomás (12)" in page
    assert "&quot;name&quot;: &quot;Lucía" not in page


def test_an_appointment_s_history_reads_in_words(two_offices):
    _, (in_north, _) = two_offices
    in_north.events.create(action="no_show", by="system", data={"reason": "did_not_come"})
    admin, _ = user_in(ROLE_PROGRAM_ADMIN, "programme")
    page = admin.get(f"/admin/appointments/appointment/{in_north.pk}/change/").content.decode()
    assert "reason: did not come" in page
    assert "did_not_come" not in page


def test_an_office_s_city_fits_the_sms_that_name_it(two_offices):
    """Every SMS names the office's city and fits one part only with a city of up to 20 characters
    (tests/notifications/test_sms_one_part.py): the office page refuses a longer one."""
    (north, _), _ = two_offices
    admin, _ = user_in(ROLE_PROGRAM_ADMIN, "programme")
    address = f"/admin/appointments/office/{north.pk}/change/"
    response = admin.post(address, office_form(north, city="Santo Domingo de los Tsáchilas"))
    assert response.status_code == 200
    assert "at most 20 characters" in response.content.decode()
    assert Office.objects.get(pk=north.pk).city == north.city
    assert admin.post(address, office_form(north, city="San José de Guaviare")).status_code == 302
    assert Office.objects.get(pk=north.pk).city == "San José de Guaviare"
