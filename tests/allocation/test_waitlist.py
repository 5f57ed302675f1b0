"""The waitlist of a full office: joining (and each bad input), a freed place offered to the first
person waiting (cancel, move, expired hold), the offer taken, declined or passed on, the link's
page, staff visibility and retention."""

import datetime
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from allocation import waitlist_services as services
from allocation.models import WaitlistEntry
from allocation.waitlist_services import WaitlistError, WaitlistErrorCode
from appointments.models import Appointment, Hold, Office, Slot
from appointments.services.booking import book_appointment, hold_slot, purge_expired_holds
from appointments.services.changes import cancel_appointment, move_appointment
from appointments.signals import place_freed
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR, ensure_roles
from eligibility.services import screening_reference
from notifications.models import Notification
from retention.services import run_retention
from tests.appointments.conftest import OfficeFactory, details, make_screening
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
Status = WaitlistEntry.Status


def add_slot(office, *, days: int = 3, capacity: int = 1, hour: int = 15) -> Slot:
    day = timezone.now() + datetime.timedelta(days=days)
    starts = day.replace(hour=hour, minute=0, second=0, microsecond=0)
    return Slot.objects.create(
        office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=capacity
    )


def book(slot, screening, number: str, phone: str = "+573001112233") -> Appointment:
    return book_appointment(
        screening=screening,
        slot_id=slot.pk,
        details=details(document_number=number, phone=phone),
        booking_key=uuid.uuid4(),
    )


@pytest.fixture
def full_office(published):
    """An office whose one time is booked. Entries are made at once from the details page; with the
    code sent by SMS first (offices' default), see tests/allocation/test_verified_phone.py."""
    office = OfficeFactory(name="Oficina Llena", hours=[], max_party_size=3, verify_phone=False)
    slot = add_slot(office)
    appointment = book(slot, make_screening(published), "X9999999")
    office.slot, office.appointment = slot, appointment
    return office


def typed(**overrides: Any) -> dict[str, Any]:
    """What DetailsForm.as_typed gives."""
    values = {
        "full_name": "Ana Gómez",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": "P1234567",
        "document_country": "VE",
        "date_of_birth": "1988-04-02",
        "phone": "+573001234567",
        "email": "",
        "language": "en",
        "party_size": 1,
        "companions": [],
    }
    return {**values, **overrides}


def join(office, published, n: int = 1, **overrides: Any) -> WaitlistEntry:
    values = typed(document_number=f"P{n:07d}", phone=f"+57300{n:07d}", **overrides)
    entry, _token = services.join_waitlist(office=office, screening=make_screening(published), values=values)
    return entry


@pytest.fixture
def freed(monkeypatch):
    """Every place_freed sent (after commit), as (office_id, slot_id)."""
    sent: list[tuple[int, int]] = []

    def receiver(sender, *, office_id, slot_id, **kwargs):
        sent.append((office_id, slot_id))

    place_freed.connect(receiver, dispatch_uid="test-freed")
    yield sent
    place_freed.disconnect(dispatch_uid="test-freed")


def messages_of(entry: WaitlistEntry) -> list[dict]:
    rows = Notification.objects.filter(kind=Notification.Kind.WAITLIST, recipient=entry.phone.as_e164).order_by("pk")
    return [row.details for row in rows]


# ---------------------------------------------------------------------------------------------
# The booking's day page leads to the waitlist when every day is full
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def booking_client(client, published):
    screening = make_screening(published)
    assert client.get("/en/book/", {"screening": screening_reference(screening)}).status_code == 302
    client.screening = screening
    return client


def url(name: str, *args: Any, lang: str = "en") -> str:
    with translation.override(lang):
        return reverse(name, args=args)


def test_the_day_page_offers_the_waitlist_only_when_every_day_is_full(booking_client, full_office):
    join_url = url("allocation:waitlist-join", full_office.slug)
    page = booking_client.get(url("appointments:choose-day", full_office.slug)).content.decode()
    assert join_url in page
    assert "Join the waitlist" in page
    add_slot(full_office, days=4)
    page = booking_client.get(url("appointments:choose-day", full_office.slug)).content.decode()
    assert join_url not in page


def test_a_full_day_leads_back_to_the_day_page_with_the_waitlist(booking_client, full_office):
    day = full_office.slot.local_start().date()
    response = booking_client.get(url("appointments:choose-slot", full_office.slug, day), follow=True)
    assert url("allocation:waitlist-join", full_office.slug) in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Joining
# ---------------------------------------------------------------------------------------------
def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "full_name": "Ana Gómez",
        "date_of_birth_0": "2",
        "date_of_birth_1": "4",
        "date_of_birth_2": "1988",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": "P-123.4567",
        "document_country": "VE",
        "phone": "300 123 4567",
        "email": "",
        "language": "en",
        "party_size": "2",
        "companion_name_1": "Luis Gómez",
        "companion_age_1": "7",
        "consent": "on",
    }
    data.update(overrides)
    return data


def join_by_pages(client, office, **overrides: str):
    response = client.post(url("allocation:waitlist-join", office.slug), {"party_size": "2"})
    assert response.status_code == 302
    assert response["Location"] == url("allocation:waitlist-details", office.slug)
    return client.post(url("allocation:waitlist-details", office.slug), form_data(**overrides))


def test_join_the_waitlist(booking_client, full_office):
    page = booking_client.get(url("allocation:waitlist-join", full_office.slug))
    assert page.status_code == 200
    assert "Nobody is waiting yet: you would be first." in page.content.decode()
    response = join_by_pages(booking_client, full_office)
    assert response.status_code == 302
    assert response["Location"] == url("allocation:waitlist-joined")
    entry = WaitlistEntry.objects.get()
    assert (entry.office, entry.status, entry.document_number, entry.phone.as_e164) == (
        full_office,
        Status.WAITING,
        "P1234567",
        "+573001234567",
    )
    assert entry.party_size == 2
    assert entry.details["companions"] == [{"name": "Luis Gómez", "age": 7}]
    assert entry.screening == booking_client.screening
    [message] = messages_of(entry)
    assert message["event"] == "joined"
    assert "/en/waitlist/place/" in message["url"]
    page = booking_client.get(url("allocation:waitlist-joined")).content.decode()
    assert "You are on the waitlist" in page
    assert "You are first on the list." in page
    # The link in the SMS opens the same place on the list.
    assert "You are on the waitlist" in booking_client.get(message["url"].split("example.org")[-1]).content.decode()


@pytest.mark.parametrize(
    "second",
    [
        {"document_number": "P1234567", "phone": "310 765 4321"},  # the same document
        {"document_number": "Ｐ１２３４５６７", "phone": "310 765 4321"},  # in full-width letters and digits
        {"document_number": "p 123 4567", "phone": "310 765 4321"},  # spaced, lower case
        {"document_number": "Q7654321", "phone": "300 123 4567"},  # another document, the same phone
    ],
)
def test_one_entry_per_document_and_per_phone(booking_client, full_office, second):
    assert join_by_pages(booking_client, full_office).status_code == 302
    response = join_by_pages(booking_client, full_office, **second)
    assert response.status_code == 409
    assert escape(services.already_waiting().message) in response.content.decode()
    assert "already on this office&#x27;s waitlist" in response.content.decode()
    assert WaitlistEntry.objects.count() == 1
    # In Spanish, the message in Spanish (from the catalogue).
    response = booking_client.post(url("allocation:waitlist-details", full_office.slug, lang="es"), form_data(**second))
    assert response.status_code == 409
    with translation.override("es"):
        assert escape(services.already_waiting().message) in response.content.decode()


def test_a_document_on_another_office_s_list_may_join_this_one(booking_client, full_office, published):
    other = OfficeFactory(name="Otra", hours=[])
    join(other, published, n=1234567)
    assert join_by_pages(booking_client, full_office).status_code == 302


def test_an_empty_form_is_refused_with_the_fields_named(booking_client, full_office):
    booking_client.post(url("allocation:waitlist-join", full_office.slug), {"party_size": "1"})
    response = booking_client.post(url("allocation:waitlist-details", full_office.slug), {})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter your full name." in page
    assert "Enter the document number." in page
    assert "Enter a mobile phone number." in page
    assert not WaitlistEntry.objects.exists()


def test_a_letter_of_another_alphabet_in_the_document_is_refused(booking_client, full_office):
    # A Cyrillic letter that looks like a P.
    response = join_by_pages(booking_client, full_office, document_number="\u04201234567")
    assert response.status_code == 400
    assert "Retype" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_someone_with_an_appointment_cannot_join(booking_client, full_office):
    response = join_by_pages(booking_client, full_office, document_number="X9999999")
    assert response.status_code == 409
    assert "There is already an appointment for this identity document" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_joining_needs_an_eligible_screening_in_the_session(client, full_office):
    response = client.get(url("allocation:waitlist-join", full_office.slug))
    assert response.status_code == 400
    assert "first answer the questions" in response.content.decode()
    response = client.post(url("allocation:waitlist-details", full_office.slug), form_data())
    assert response.status_code == 400
    assert not WaitlistEntry.objects.exists()


def test_party_size_over_the_office_s_limit(booking_client, full_office):
    response = booking_client.post(url("allocation:waitlist-join", full_office.slug), {"party_size": "9"})
    assert response.status_code == 400
    assert "at most 3 people" in response.content.decode()


def test_leave_the_list_from_the_confirmation_page(booking_client, full_office):
    join_by_pages(booking_client, full_office)
    response = booking_client.post(url("allocation:waitlist-leave"))
    assert response.status_code == 200
    assert "You left the waitlist" in response.content.decode()
    assert WaitlistEntry.objects.get().status == Status.LEFT
    # Then the same document may join again.
    assert join_by_pages(booking_client, full_office).status_code == 302


# ---------------------------------------------------------------------------------------------
# A freed place is offered to the first person waiting
# ---------------------------------------------------------------------------------------------
def assert_offered(entry: WaitlistEntry, slot: Slot, settings) -> Hold:
    entry.refresh_from_db()
    assert entry.status == Status.OFFERED
    assert entry.offer_slot == slot
    hold = Hold.objects.get(token=entry.offer_hold)
    assert hold.slot == slot
    assert hold.details["document_number"] == entry.document_number
    minutes = (hold.expires_at - timezone.now()).total_seconds() / 60
    assert settings.WAITLIST_OFFER_MINUTES - 1 < minutes <= settings.WAITLIST_OFFER_MINUTES
    slot.refresh_from_db()
    assert slot.taken == slot.capacity
    offer = messages_of(entry)[-1]
    assert offer["event"] == "offer"
    assert "/waitlist/place/" in offer["url"]
    return hold


def test_a_cancellation_offers_the_place_to_the_first_person_waiting(
    full_office, published, freed, settings, django_capture_on_commit_callbacks
):
    first, second = join(full_office, published, 1), join(full_office, published, 2)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(appointment_id=full_office.appointment.pk)
    assert freed == [(full_office.pk, full_office.slot.pk)]
    assert services.offer_freed_place(slot_id=full_office.slot.pk) == first
    assert_offered(first, full_office.slot, settings)
    second.refresh_from_db()
    assert second.status == Status.WAITING
    # The same news twice (a task delivered again) offers nothing more: the place is taken.
    assert services.offer_freed_place(slot_id=full_office.slot.pk) is None
    assert WaitlistEntry.objects.filter(status=Status.OFFERED).count() == 1


def test_a_move_offers_the_old_place(full_office, published, freed, settings, django_capture_on_commit_callbacks):
    entry = join(full_office, published)
    other = add_slot(full_office, days=4)
    with django_capture_on_commit_callbacks(execute=True):
        move_appointment(appointment_id=full_office.appointment.pk, slot_id=other.pk)
    assert freed == [(full_office.pk, full_office.slot.pk)]
    services.offer_freed_place(slot_id=full_office.slot.pk)
    assert_offered(entry, full_office.slot, settings)


def test_an_expired_hold_offers_its_place(published, freed, settings, django_capture_on_commit_callbacks):
    office = OfficeFactory(hours=[])
    slot = add_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=make_screening(published))
    entry = join(office, published)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_holds(now=timezone.now()) == 0
    assert freed == []
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_expired_holds(now=hold.expires_at + datetime.timedelta(seconds=1)) == 1
    assert freed == [(office.pk, slot.pk)]
    services.offer_freed_place(slot_id=slot.pk)
    assert_offered(entry, slot, settings)


def test_a_released_hold_tells_the_waitlist(published, freed, django_capture_on_commit_callbacks):
    from appointments.services.booking import release_hold

    office = OfficeFactory(hours=[])
    slot = add_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=make_screening(published))
    with django_capture_on_commit_callbacks(execute=True):
        release_hold(token=hold.token)
    assert freed == [(office.pk, slot.pk)]


def test_the_place_goes_to_the_first_person_it_fits(full_office, published, settings):
    too_many = join(full_office, published, 1, party_size=3)
    too_old = join(full_office, published, 2)
    fits = join(full_office, published, 3)
    full_office.max_party_size = 2
    full_office.save()
    WaitlistEntry.objects.filter(pk=too_old.pk).update(
        screening=make_screening(published, created_at=timezone.now() - datetime.timedelta(days=8))
    )
    cancel_appointment(appointment_id=full_office.appointment.pk)
    assert services.offer_freed_place(slot_id=full_office.slot.pk) == fits
    assert_offered(fits, full_office.slot, settings)
    too_many.refresh_from_db()
    too_old.refresh_from_db()
    assert too_many.status == Status.WAITING  # a later, larger place may fit
    assert too_old.status == Status.LAPSED
    assert messages_of(too_old)[-1]["event"] == "lapsed"


def test_a_place_nobody_may_book_is_not_offered(full_office, published):
    entry = join(full_office, published)
    cancel_appointment(appointment_id=full_office.appointment.pk)
    Slot.objects.filter(pk=full_office.slot.pk).update(capacity=0, taken=0)
    assert services.offer_freed_place(slot_id=full_office.slot.pk) is None
    entry.refresh_from_db()
    assert entry.status == Status.WAITING


# ---------------------------------------------------------------------------------------------
# The offer's page: take it, or not
# ---------------------------------------------------------------------------------------------
def offered(office, published, n: int = 1) -> tuple[WaitlistEntry, str]:
    """An entry offered the office's freed place, and the path of its SMS link."""
    entry = join(office, published, n)
    cancel_appointment(appointment_id=office.appointment.pk)
    assert services.offer_freed_place(slot_id=office.slot.pk) == entry
    link = messages_of(entry)[-1]["url"]
    entry.refresh_from_db()
    return entry, re.sub(r"^https?://[^/]+", "", link)


def test_the_offer_taken(client, full_office, published):
    entry, link = offered(full_office, published)
    page = client.get(link)
    assert page.status_code == 200
    text = page.content.decode()
    assert "A time is free for you" in text
    assert "Take this place" in text
    assert "csrfmiddlewaretoken" in text
    response = client.post(link, {"action": "take"})
    assert response.status_code == 302
    assert response["Location"] == url("appointments:appointment")
    appointment = Appointment.objects.get(document_number=entry.document_number)
    assert (appointment.slot, appointment.status, appointment.full_name) == (
        full_office.slot,
        Appointment.Status.BOOKED,
        "Ana Gómez",
    )
    entry.refresh_from_db()
    assert (entry.status, entry.appointment) == (Status.BOOKED, appointment)
    assert not Hold.objects.filter(token=entry.offer_hold).exists()
    full_office.slot.refresh_from_db()
    assert full_office.slot.taken == 1
    assert "Your appointment" in client.get(response["Location"]).content.decode()
    # The link is used up.
    assert client.get(link).status_code == 410
    # Its confirmation SMS, like any booking's.
    assert Notification.objects.filter(appointment=appointment, kind=Notification.Kind.CONFIRMATION).exists()


def test_the_offer_declined_goes_to_the_next_person(
    client, full_office, published, freed, settings, django_capture_on_commit_callbacks
):
    entry, link = offered(full_office, published, 1)
    following = join(full_office, published, 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link, {"action": "decline"})
    assert response.status_code == 200
    assert "The time goes to the next person" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.DECLINED
    assert not Hold.objects.filter(token=entry.offer_hold).exists()
    assert freed[-1] == (full_office.pk, full_office.slot.pk)
    assert services.offer_freed_place(slot_id=full_office.slot.pk) == following
    assert_offered(following, full_office.slot, settings)
    assert client.post(link, {"action": "take"}).status_code == 409  # the link changes nothing more
    assert not Appointment.objects.filter(document_number=entry.document_number).exists()


def test_an_offer_not_taken_in_time_passes_on(
    full_office, published, freed, settings, django_capture_on_commit_callbacks
):
    entry, _link = offered(full_office, published, 1)
    following = join(full_office, published, 2)
    later = entry.offer_expires_at + datetime.timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pass_on_expired_offers(now=later) == 1
    entry.refresh_from_db()
    assert entry.status == Status.MISSED
    assert messages_of(entry)[-1]["event"] == "missed"
    assert freed[-1] == (full_office.pk, full_office.slot.pk)
    assert services.offer_freed_place(slot_id=full_office.slot.pk, now=later) == following
    following.refresh_from_db()
    assert following.status == Status.OFFERED
    assert services.pass_on_expired_offers(now=later) == 0


def test_an_expired_offer_cannot_be_taken(client, full_office, published):
    entry, link = offered(full_office, published)
    WaitlistEntry.objects.filter(pk=entry.pk).update(offer_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get(link).status_code == 410
    response = client.post(link, {"action": "take"})
    assert response.status_code == 409
    assert "no longer open" in response.content.decode()
    assert not Appointment.objects.filter(document_number=entry.document_number).exists()


def test_the_offer_taken_by_someone_already_booked_elsewhere(client, full_office, published):
    entry, link = offered(full_office, published)
    elsewhere = add_slot(OfficeFactory(hours=[]), days=5)
    book(elsewhere, make_screening(published), entry.document_number, phone="+573009998877")
    response = client.post(link, {"action": "take"})
    assert response.status_code == 409
    entry.refresh_from_db()
    assert entry.status == Status.BOOKED
    assert entry.appointment is None
    full_office.slot.refresh_from_db()
    assert full_office.slot.taken == 0  # the place was given back


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_wrong_link(client, full_office, published, lang):
    entry, link = offered(full_office, published)
    token = link.rstrip("/").rsplit("/", 1)[1]
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with translation.override(lang):
        words = escape(services.gone_message())
    for wrong in ("wrong", altered, "x" * 500):
        path = url("allocation:waitlist-place", wrong, lang=lang)
        response = client.get(path)
        assert response.status_code == 404
        assert words in response.content.decode()
        assert f'lang="{lang}"' in response.content.decode()
        assert client.post(path, {"action": "take"}).status_code == 404
    entry.refresh_from_db()
    assert entry.status == Status.OFFERED


def test_the_old_link_of_the_joined_sms_stops_at_the_offer(client, full_office, published):
    entry = join(full_office, published)
    joined_link = re.sub(r"^https?://[^/]+", "", messages_of(entry)[0]["url"])
    assert client.get(joined_link).status_code == 200
    cancel_appointment(appointment_id=full_office.appointment.pk)
    services.offer_freed_place(slot_id=full_office.slot.pk)
    assert client.get(joined_link).status_code == 404


def test_the_offer_page_has_no_unknown_action(client, full_office, published):
    _entry, link = offered(full_office, published)
    assert client.post(link, {"action": "steal"}).status_code == 400


# ---------------------------------------------------------------------------------------------
# Upkeep
# ---------------------------------------------------------------------------------------------
def test_answers_too_old_leave_the_list(full_office, published, settings):
    entry = join(full_office, published)
    later = timezone.now() + datetime.timedelta(days=settings.SCREENING_VALID_DAYS, minutes=1)
    assert services.lapse_old_entries(now=timezone.now()) == 0
    assert services.lapse_old_entries(now=later) == 1
    entry.refresh_from_db()
    assert entry.status == Status.LAPSED
    assert messages_of(entry)[-1] == {"event": "lapsed", "days": 7, "url": messages_of(entry)[-1]["url"]}


def test_free_places_nobody_announced_are_offered(published):
    office = OfficeFactory(hours=[])
    entry = join(office, published)
    slot = add_slot(office)
    assert services.offer_free_places() == 1
    entry.refresh_from_db()
    assert (entry.status, entry.offer_slot) == (Status.OFFERED, slot)
    assert services.offer_free_places() == 0


def test_a_lottery_office_has_no_waitlist_and_its_free_places_never_go_to_one(booking_client, full_office, published):
    """A lottery office's places go by its draw. Its waitlist's address, typed by hand, is not
    found; an entry from the time it was first come gets no place, neither from the per-minute
    upkeep nor from a place freed there."""
    entry = join(full_office, published)
    full_office.allocation = Office.Allocation.LOTTERY
    full_office.save()
    for name in ("allocation:waitlist-join", "allocation:waitlist-details", "allocation:waitlist-code"):
        assert booking_client.get(url(name, full_office.slug)).status_code == 404, name
        assert booking_client.post(url(name, full_office.slug), form_data()).status_code == 404, name
    assert WaitlistEntry.objects.count() == 1
    free = add_slot(full_office, days=4)
    assert services.offer_free_places() == 0
    assert services.offer_freed_place(slot_id=free.pk) is None
    entry.refresh_from_db()
    assert entry.status == Status.WAITING
    assert entry.offer_slot is None
    assert [message for message in messages_of(entry) if message["event"] == "offer"] == []
    # The same office first come again: the place goes to the person waiting.
    full_office.allocation = Office.Allocation.FIRST_COME
    full_office.save()
    assert services.offer_free_places() == 1


# ---------------------------------------------------------------------------------------------
# Staff, supervisors, retention
# ---------------------------------------------------------------------------------------------
def test_staff_see_their_office_s_waitlist_only_and_supervisors_all(full_office, published):
    other = OfficeFactory(name="Oficina Cali", hours=[])
    mine, theirs = join(full_office, published, 1), join(other, published, 2)
    groups = ensure_roles()
    users = get_user_model().objects
    staff = users.create_user(username="desk", password="x" * 16, is_staff=True)
    staff.groups.add(groups[ROLE_OFFICE_STAFF])
    full_office.staff.add(staff)
    client = sign_in(Client(headers={"accept-language": "en"}), staff)
    listing = client.get("/admin/allocation/waitlistentry/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [mine]
    assert client.get(f"/admin/allocation/waitlistentry/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/allocation/waitlistentry/{theirs.pk}/change/").status_code == 404
    # Read-only: no add, no change, no delete.
    assert client.get("/admin/allocation/waitlistentry/add/").status_code == 403
    assert client.post(f"/admin/allocation/waitlistentry/{mine.pk}/change/", {"status": "left"}).status_code == 403
    assert client.get(f"/admin/allocation/waitlistentry/{mine.pk}/delete/").status_code == 403
    supervisor = users.create_user(username="boss", password="x" * 16, is_staff=True)
    supervisor.groups.add(groups[ROLE_SUPERVISOR])
    client = sign_in(Client(headers={"accept-language": "en"}), supervisor)
    listing = client.get("/admin/allocation/waitlistentry/")
    assert set(listing.context["cl"].result_list) == {mine, theirs}
    nobody = users.create_user(username="someone", password="x" * 16, is_staff=True)
    client = sign_in(Client(headers={"accept-language": "en"}), nobody)
    assert client.get("/admin/allocation/waitlistentry/").status_code == 403


def test_retention_erases_who_left_the_list(full_office, published, settings):
    left, waiting = join(full_office, published, 1), join(full_office, published, 2)
    services.leave_waitlist(entry_id=left.pk)
    later = timezone.now() + datetime.timedelta(days=settings.SCREENING_RETENTION_DAYS + 1)
    assert run_retention(now=timezone.now()).get("waitlist_entries", 0) == 0
    assert run_retention(now=later)["waitlist_entries"] == 1
    left.refresh_from_db()
    waiting.refresh_from_db()
    assert (left.full_name, left.document_number, str(left.phone or ""), left.details) == ("", "", "", {})
    assert left.erased_at is not None
    assert left.status == Status.LEFT
    assert waiting.document_number == "P0000002"
    assert run_retention(now=later).get("waitlist_entries", 0) == 0


def test_the_lifecycle_table_refuses_what_it_does_not_list(full_office, published):
    entry = join(full_office, published)
    with pytest.raises(WaitlistError) as error:
        services.decline_offer(entry_id=entry.pk)
    assert error.value.code == WaitlistErrorCode.GONE
    entry.refresh_from_db()
    assert entry.status == Status.WAITING


# ---------------------------------------------------------------------------------------------
# The SMS
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["es", "en", "ht"])
def test_each_waitlist_sms_fits_one_part_in_the_person_s_language(full_office, published, settings, language):
    from notifications.sending import render_person
    from notifications.sms import gsm7_length

    settings.SITE_URL = "https://citas.example.org"
    full_office.city = "Ciudad de Guatemala"
    full_office.save()
    first = join(full_office, published, 1, language=language)
    second = join(full_office, published, 2, language=language)
    cancel_appointment(appointment_id=full_office.appointment.pk)
    services.offer_freed_place(slot_id=full_office.slot.pk)
    services.pass_on_expired_offers(now=timezone.now() + datetime.timedelta(minutes=settings.WAITLIST_OFFER_MINUTES))
    services.lapse_old_entries(now=timezone.now() + datetime.timedelta(days=8))
    rows = Notification.objects.filter(kind=Notification.Kind.WAITLIST).order_by("pk")
    events = {(row.recipient, row.details["event"]): row for row in rows}
    assert set(events) == {
        (first.phone.as_e164, "joined"),
        (second.phone.as_e164, "joined"),
        (first.phone.as_e164, "offer"),
        (first.phone.as_e164, "missed"),
        (second.phone.as_e164, "lapsed"),
    }
    for (_phone, event), row in events.items():
        text = render_person(row)
        assert row.details["url"] in text, event
        assert "Ciudad de Guatemala" in text
        assert gsm7_length(text) <= 160, (event, text)
    offer = render_person(events[(first.phone.as_e164, "offer")])
    local = full_office.slot.local_start()
    assert f"{local:%H:%M}" in offer
    assert f"{local.day} " in offer


def test_the_place_page_says_how_many_are_ahead(client, full_office, published):
    join(full_office, published, 1)
    second = join(full_office, published, 2)
    link = re.sub(r"^https?://[^/]+", "", messages_of(second)[0]["url"])
    page = client.get(link).content.decode()
    assert "1 person is ahead of you." in page
    assert "Leave the waitlist" in page
    assert client.post(link, {"action": "leave"}).status_code == 200
    second.refresh_from_db()
    assert second.status == Status.LEFT


def test_the_page_after_joining_sends_an_offer_to_the_sms_link(booking_client, full_office):
    join_by_pages(booking_client, full_office)
    entry = WaitlistEntry.objects.get()
    cancel_appointment(appointment_id=full_office.appointment.pk)
    services.offer_freed_place(slot_id=full_office.slot.pk)
    page = booking_client.get(url("allocation:waitlist-joined"))
    assert page.status_code == 200
    assert "We sent you an SMS with a link to take it." in page.content.decode()
    assert "Take this place" not in page.content.decode()
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    services.decline_offer(entry_id=entry.pk)
    assert booking_client.get(url("allocation:waitlist-joined")).status_code == 404


def test_a_screening_gone_while_joining_is_a_page_not_an_error(booking_client, full_office):
    booking_client.post(url("allocation:waitlist-join", full_office.slug), {"party_size": "2"})
    booking_client.screening.delete()
    response = booking_client.post(url("allocation:waitlist-details", full_office.slug), form_data())
    assert response.status_code == 400
    assert "Answer the questions" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


def test_people_who_booked_by_themselves_leave_the_list(full_office, published):
    entry, other = join(full_office, published, 1), join(full_office, published, 2)
    book(add_slot(full_office, days=4), make_screening(published), entry.document_number, phone="+573007776655")
    assert services.close_booked_entries() == 1
    entry.refresh_from_db()
    other.refresh_from_db()
    assert (entry.status, other.status) == (Status.BOOKED, Status.WAITING)
    assert services.close_booked_entries() == 0


def test_a_used_offer_link_opens_the_appointment_to_nobody_else(client, full_office, published):
    """The link is a bearer token while the place is offered; once it has booked the place, a
    POST with it (a forwarded SMS, a shared phone) opens nothing: the appointment's page is
    reached from its own confirmation SMS. The browser that took it is sent to its page again."""
    entry, link = offered(full_office, published)
    assert client.post(link, {"action": "take"}).status_code == 302
    appointment = Appointment.objects.get(document_number=entry.document_number)
    again = client.post(link, {"action": "take"})  # pressed twice
    assert (again.status_code, again["Location"]) == (302, url("appointments:appointment"))
    stranger = Client()
    for action in ("take", "decline", "leave"):
        response = stranger.post(link, {"action": action})
        assert response.status_code == 410, action
        assert "Ana Gómez" not in response.content.decode()
    page = stranger.get(url("appointments:appointment"), follow=True)
    assert "Ana Gómez" not in page.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_a_number_with_its_appointments_already_cannot_join(booking_client, full_office, published, settings):
    """A number at ACTIVE_APPOINTMENTS_PER_PHONE could not take a place offered (it would be held
    for nobody, and the entry end as if the offer were missed): the details page again, as typed,
    the refusal at the phone number; another number joins."""
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    assert full_office.appointment.phone.as_e164 == "+573001112233"
    response = join_by_pages(booking_client, full_office, phone="300 111 2233")
    assert response.status_code == 409
    text = response.content.decode()
    assert "already has 1 appointment that has not taken place yet" in text
    assert 'value="P-123.4567"' in text  # as typed
    assert "Ana Gómez" in text
    assert not WaitlistEntry.objects.exists()
    assert (
        booking_client.post(
            url("allocation:waitlist-details", full_office.slug), form_data(phone="300 111 2244")
        ).status_code
        == 302
    )
    assert WaitlistEntry.objects.get().phone.as_e164 == "+573001112244"


def test_an_offer_to_a_number_that_booked_since_keeps_its_place_until_one_is_cancelled(
    client, full_office, published, settings
):
    """The number booked its last appointment after joining: "Take this place" says so (409) and
    the offer stays, its place held, so that cancelling one appointment lets the person take it."""
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    entry, link = offered(full_office, published)
    other = book(
        add_slot(OfficeFactory(hours=[]), days=6), make_screening(published), "Z1234567", phone=str(entry.phone)
    )
    response = client.post(link, {"action": "take"})
    assert response.status_code == 409
    assert "To take this place, cancel one of them" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.OFFERED
    assert Hold.objects.filter(token=entry.offer_hold, slot=full_office.slot).exists()
    assert [m["event"] for m in messages_of(entry)] == ["joined", "offer"]
    cancel_appointment(appointment_id=other.pk)
    response = client.post(link, {"action": "take"})
    assert (response.status_code, response["Location"]) == (302, url("appointments:appointment"))
    entry.refresh_from_db()
    assert entry.status == Status.BOOKED
    assert entry.appointment.slot == full_office.slot


def test_take_and_no_thanks_pressed_together_end_as_what_was_booked(full_office, published, monkeypatch):
    """ "No thanks" ends the offer (its place given back) after "Take this place" read it as
    offered and before its booking: the booking takes the place given back, and that is what
    counts. The entry ends booked with its appointment, not a booked place and an entry that says
    declined (and a 409 to the person who has an appointment)."""
    entry, _link = offered(full_office, published)
    real_book = services.book_appointment

    def decline_then_book(**kwargs):
        services.decline_offer(entry_id=entry.pk)
        assert WaitlistEntry.objects.get(pk=entry.pk).status == Status.DECLINED
        return real_book(**kwargs)

    monkeypatch.setattr(services, "book_appointment", decline_then_book)
    appointment = services.take_offer(entry_id=entry.pk)
    entry.refresh_from_db()
    assert (entry.status, entry.appointment) == (Status.BOOKED, appointment)
    assert appointment.status == Appointment.Status.BOOKED
    full_office.slot.refresh_from_db()
    assert full_office.slot.taken == 1


def test_a_place_is_not_offered_to_a_number_that_reached_its_appointments_since_joining(
    full_office, published, settings
):
    """The first person's number booked its last allowed appointment after joining: the place
    goes to the next person, and the first keeps their turn on the list."""
    settings.ACTIVE_APPOINTMENTS_PER_PHONE = 1
    first = join(full_office, published, 1)
    following = join(full_office, published, 2)
    book(add_slot(OfficeFactory(hours=[]), days=6), make_screening(published), "Z7654321", phone=str(first.phone))
    cancel_appointment(appointment_id=full_office.appointment.pk)
    assert services.offer_freed_place(slot_id=full_office.slot.pk) == following
    first.refresh_from_db()
    assert first.status == Status.WAITING
