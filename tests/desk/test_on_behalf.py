"""Bookings on a person's behalf: staff who reach an eligible person by phone book them through
the same pages and service, recorded as booked by that member of staff; offices that allow it let
the desk book a free place of today for a person who is there."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from appointments.models import Appointment, Slot
from core.services import ROLE_OFFICE_STAFF, ensure_roles
from desk.models import DeskSettings
from eligibility.services import screening_reference
from tests.appointments.conftest import make_screening
from tests.appointments.test_pages import details_data, url
from tests.desk.conftest import staff_of

pytestmark = pytest.mark.django_db


def confirm(client) -> Appointment:
    page = client.get(url("check", lang="en")).content.decode()
    assert "recorded as made by you on the person" in page
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    response = client.post(url("check", lang="en"), {"key": key})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Appointment.objects.get(booking_key=key)


def test_staff_on_the_phone_book_through_the_same_pages(desk_office, published):
    client, user = staff_of(desk_office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    slot = Slot.objects.filter(office=desk_office, starts_at__gte=timezone.now() + datetime.timedelta(days=2)).first()
    client.post(url("choose-slot", desk_office.slug, slot.local_start().date()), {"slot": slot.pk})
    client.post(url("details"), details_data())
    appointment = confirm(client)
    event = appointment.events.get()
    assert (event.action, event.by, event.actor) == ("booked", "staff", user)
    assert appointment.notifications.filter(kind="confirmation").exists()  # the same messages


def test_booking_on_a_person_s_behalf_keeps_the_staff_session_s_idle_time(desk_office, published, settings):
    """The appointment opened after a booking would end the whole session after
    MANAGE_SESSION_IDLE_MINUTES (20): a staff session follows STAFF_SESSION_IDLE_MINUTES (30) only."""
    assert (settings.MANAGE_SESSION_IDLE_MINUTES, settings.STAFF_SESSION_IDLE_MINUTES) == (20, 30)
    client, _user = staff_of(desk_office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    slot = Slot.objects.filter(office=desk_office, starts_at__gte=timezone.now() + datetime.timedelta(days=2)).first()
    client.post(url("choose-slot", desk_office.slug, slot.local_start().date()), {"slot": slot.pk})
    client.post(url("details"), details_data())
    page = client.get(url("check", lang="en")).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    response = client.post(url("check", lang="en"), {"key": key})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 30 * 60
    assert client.session.get_expiry_age() == 30 * 60
    stored = Session.objects.get(session_key=client.session.session_key)
    assert 29 * 60 < (stored.expire_date - timezone.now()).total_seconds() <= 30 * 60
    assert client.get(response["Location"]).cookies["sessionid"]["max-age"] == 30 * 60


def test_an_applicant_s_own_booking_is_not_recorded_as_staff(desk_office, other_office, published):
    client, _ = staff_of(other_office)  # staff, but of another office: booking for themselves
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    slot = Slot.objects.filter(office=desk_office, starts_at__gte=timezone.now() + datetime.timedelta(days=2)).first()
    client.post(url("choose-slot", desk_office.slug, slot.local_start().date()), {"slot": slot.pk})
    client.post(url("details"), details_data())
    page = client.get(url("check")).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    client.post(url("check"), {"key": key})
    event = Appointment.objects.get(booking_key=key).events.get()
    assert (event.by, event.actor) == ("applicant", None)


def walk_in_url(office) -> str:
    return f"/admin/desk/ticket/queue/{office.pk}/walk-in/"


def test_walk_ins_are_off_by_default(desk_office, published):
    client, _ = staff_of(desk_office)
    response = client.get(walk_in_url(desk_office))
    assert response.status_code == 403
    assert "works by appointment only" in response.content.decode()
    assert client.post(walk_in_url(desk_office), {"start": "1"}).status_code == 403


def test_the_desk_books_a_person_who_is_there_into_a_free_place_of_today(desk_office, published):
    DeskSettings.objects.filter(office=desk_office).update(walk_ins=True)
    client, user = staff_of(desk_office)
    response = client.post(walk_in_url(desk_office), {"start": "1"})
    assert response["Location"].endswith("/questions/")
    # The person answered the questions with staff; "Book an appointment" brings staff back.
    response = client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    assert response["Location"] == walk_in_url(desk_office)
    page = client.get(walk_in_url(desk_office))
    now = timezone.now()
    soon = min(page.context["form"].available, key=lambda slot: slot.starts_at)
    assert soon.starts_at < now + datetime.timedelta(hours=desk_office.min_notice_hours)  # inside the notice
    assert soon.local_start().date() == desk_office.local_today(now)
    response = client.post(walk_in_url(desk_office), {"slot": soon.pk})
    assert response["Location"] == url("people", lang="en")  # in the admin's language
    client.post(url("details"), details_data())
    appointment = confirm(client)
    assert appointment.slot_id == soon.pk
    event = appointment.events.get()
    assert (event.by, event.actor, event.data["walk_in"]) == ("staff", user, True)


@pytest.mark.parametrize("slot", ["", "x", "²", "0", "-5"])
def test_a_walk_in_with_a_bad_time_is_refused(desk_office, published, slot):
    DeskSettings.objects.filter(office=desk_office).update(walk_ins=True)
    client, _ = staff_of(desk_office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    response = client.post(walk_in_url(desk_office), {"slot": slot})
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_a_tomorrow_time_is_not_a_walk_in(desk_office, published):
    DeskSettings.objects.filter(office=desk_office).update(walk_ins=True)
    client, _ = staff_of(desk_office)
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    tomorrow = desk_office.local_today(timezone.now()) + datetime.timedelta(days=1)
    slot = next(s for s in Slot.objects.filter(office=desk_office) if s.local_start().date() == tomorrow)
    response = client.post(walk_in_url(desk_office), {"slot": slot.pk})
    assert response.status_code == 400  # not one of the choices


def test_staff_who_gave_only_their_password_book_as_nobody_signed_in(desk_office, published, settings):
    """Through every middleware (StaffSessionMiddleware acts once the view is known, in
    process_view): a member of staff who signed in with the password alone, no second factor,
    books as the person would, never on their behalf."""
    settings.STAFF_OTP_REQUIRED = True
    ensure_roles()
    user = get_user_model().objects.create_user(username="half", password="a long test password 1", is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
    desk_office.staff.add(user)
    client = Client(headers={"accept-language": "en"})
    response = client.post("/admin/login/?next=/admin/", {"username": "half", "password": "a long test password 1"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk), "signed in, with the password only"
    client.get("/es/book/", {"screening": screening_reference(make_screening(published))})
    slot = Slot.objects.filter(office=desk_office, starts_at__gte=timezone.now() + datetime.timedelta(days=2)).first()
    client.post(url("choose-slot", desk_office.slug, slot.local_start().date()), {"slot": slot.pk})
    client.post(url("details"), details_data())
    page = client.get(url("check", lang="en")).content.decode()
    assert "Check your details" in page or 'name="key"' in page
    assert "recorded as made by you on the person" not in page
