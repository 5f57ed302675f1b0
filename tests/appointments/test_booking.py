"""The booking rules of appointments/services.py, each with its exact outcome."""

import datetime
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from appointments.errors import BookingError
from appointments.models import Appointment, AppointmentEvent, Closure, Hold, Slot
from appointments.selectors import bookable_days, with_places_left
from appointments.services.booking import REFERENCE_ALPHABET, book_appointment, hold_slot, purge_expired_holds
from appointments.services.changes import cancel_appointment, move_appointment
from appointments.services.slots import generate_slots
from tests.appointments.conftest import NOW, OfficeFactory, details, first_slot, key, make_screening

pytestmark = pytest.mark.django_db


def book(screening, slot, **kwargs):
    return book_appointment(
        screening=screening,
        slot_id=slot.pk,
        details=kwargs.pop("details", details()),
        booking_key=kwargs.pop("booking_key", key()),
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def error_of(call) -> BookingError:
    with pytest.raises(BookingError) as info:
        call()
    return info.value


def places_left(slot, now=NOW) -> int:
    return with_places_left(Slot.objects.filter(pk=slot.pk), now).get().places_left


def test_booking_writes_the_appointment_with_a_readable_reference(office, screening):
    slot = first_slot(office)
    appointment = book(screening, slot, details=details(document_number="p-123 4567", phone="+57 300 123 4567"))
    assert appointment.status == "booked"
    assert appointment.slot == slot
    assert appointment.office == office
    assert len(appointment.reference) == 9
    assert set(appointment.reference) <= set(REFERENCE_ALPHABET)
    assert not set(appointment.reference) & set("01ILOU")
    assert appointment.document_number == "P1234567"
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM appointments_appointment WHERE id = %s", [appointment.pk])
        assert cursor.fetchone() == ("+573001234567",)  # stored in E.164
    assert appointment.consent_at == NOW
    slot.refresh_from_db()
    assert slot.taken == 1
    assert places_left(slot) == 1
    assert list(appointment.events.values_list("action", flat=True)) == ["booked"]


def test_references_are_unique(office, screening, published):
    references = set()
    for slot in Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:10]:
        for number in range(2):
            references.add(
                book(
                    make_screening(published, created_at=NOW),
                    slot,
                    details=details(document_number=f"X{slot.pk}{number}"),
                ).reference
            )
    assert len(references) == 20


def test_full_slot(office, screening):
    slot = first_slot(office)
    book(screening, slot, details=details(document_number="A1"))
    book(screening, slot, details=details(document_number="A2"))
    error = error_of(lambda: book(screening, slot, details=details(document_number="A3")))
    assert error.code == "full"
    assert error.message == "This time is now full. Please choose another one."
    assert Appointment.objects.filter(slot=slot).count() == 2


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (lambda o: Slot.objects.filter(office=o, starts_at__lte=NOW).order_by("-starts_at").first(), "already passed"),
        (
            lambda o: Slot.objects.filter(
                office=o, starts_at__gt=NOW, starts_at__lt=NOW + datetime.timedelta(hours=24)
            ).first(),
            "at least 24 hours ahead",
        ),
    ],
)
def test_past_and_short_notice_slots(office, screening, when, message):
    # One slot in the past (made by hand: generation creates only future slots).
    Slot.objects.create(
        office=office,
        starts_at=NOW - datetime.timedelta(hours=2),
        ends_at=NOW - datetime.timedelta(hours=1, minutes=30),
        capacity=2,
    )
    slot = when(office)
    error = error_of(lambda: book(screening, slot))
    assert error.code == "unavailable"
    assert message in error.message


def test_slot_beyond_the_horizon(office, screening):
    last_day = NOW + datetime.timedelta(days=office.horizon_days + 2)
    far = Slot.objects.create(
        office=office, starts_at=last_day, ends_at=last_day + datetime.timedelta(minutes=30), capacity=2
    )
    error = error_of(lambda: book(screening, far))
    assert error.code == "unavailable"
    assert "up to 14 days ahead" in error.message


def test_slot_in_a_closure(office, screening):
    slot = first_slot(office)
    Closure.objects.create(
        office=office, starts_on=slot.local_start().date(), ends_on=slot.local_start().date(), reason="Strike"
    )
    # Even before the slots are regenerated, the closure is checked.
    error = error_of(lambda: book(screening, slot))
    assert error.code == "unavailable"
    assert "closed" in error.message
    assert not Appointment.objects.exists()


def test_office_that_does_not_serve_the_pathway(published, screening):
    office = OfficeFactory(pathways=["temporary-work"])
    generate_slots(office=office, now=NOW)
    error = error_of(lambda: book(screening, first_slot(office)))
    assert error.code == "unavailable"
    assert "does not handle" in error.message


def test_slot_that_does_not_exist(office, screening):
    error = error_of(
        lambda: book_appointment(screening=screening, slot_id=10**9, details=details(), booking_key=key(), now=NOW)
    )
    assert error.code == "unavailable"
    assert "no longer offered" in error.message


@pytest.mark.parametrize(
    ("screening_kwargs", "message"),
    [
        ({"eligible": ()}, "does not allow booking"),
        ({"created_at": NOW - datetime.timedelta(days=7, seconds=1)}, "more than 7 days old"),
    ],
)
def test_screening_not_eligible_or_too_old(office, published, screening_kwargs, message):
    eligible = screening_kwargs.pop("eligible", ("refugee",))
    screening = make_screening(published, eligible=eligible, **screening_kwargs)
    error = error_of(lambda: book(screening, first_slot(office)))
    assert error.code == "screening"
    assert message in error.message


@pytest.mark.parametrize(
    ("born", "message"),
    [
        (datetime.date(2027, 1, 1), "cannot be in the future"),
        (datetime.date(2008, 11, 25), "18 or older"),  # 18 only on 25 November 2026
    ],
)
def test_date_of_birth_in_the_future_or_under_18(office, screening, born, message):
    error = error_of(lambda: book(screening, first_slot(office), details=details(date_of_birth=born)))
    assert error.code == "invalid"
    assert message in error.message


def test_eighteen_on_the_day_of_the_appointment_is_enough(office, screening):
    slot = first_slot(office)
    born = slot.local_start().date().replace(year=2008)
    assert book(screening, slot, details=details(date_of_birth=born)).pk


def test_party_size_over_the_office_limit(office, screening):
    companions = [{"name": f"Hijo {n}", "age": n} for n in range(4)]
    error = error_of(lambda: book(screening, first_slot(office), details=details(party_size=5, companions=companions)))
    assert error.code == "invalid"
    assert "at most 4 people" in error.message


def test_one_active_appointment_per_document(office, screening, published):
    book(screening, first_slot(office))
    other = make_screening(published, created_at=NOW)
    later = Slot.objects.filter(office=office).order_by("-starts_at").first()
    error = error_of(lambda: book(other, later, details=details(document_number=" p12-34567 ")))
    assert error.code == "duplicate"
    assert "already an appointment for this identity document" in error.message
    assert "María" not in error.message
    assert "P1234567" not in error.message
    assert Appointment.objects.count() == 1
    later.refresh_from_db()
    assert later.taken == 0  # nothing was kept by the refused attempt
    # Another issuing country is another document.
    assert book(other, later, details=details(document_country="CO"))


def test_the_database_refuses_a_second_active_appointment_per_document(office, screening):
    appointment = book(screening, first_slot(office))
    copy = Appointment.objects.get(pk=appointment.pk)
    copy.pk, copy.reference, copy.booking_key = None, "ZZZZZZZZZ", uuid.uuid4()
    with pytest.raises(IntegrityError, match="appointments_one_active_per_document"), transaction.atomic():
        copy.save()


def test_a_missed_appointment_of_a_day_that_is_over_does_not_block_a_new_one(office, screening, published):
    old = book(screening, first_slot(office))
    later = NOW + datetime.timedelta(days=3)
    appointment = book(
        make_screening(published, created_at=later),
        first_slot(office, after=later + datetime.timedelta(days=1)),
        now=later,
    )
    old.refresh_from_db()
    assert (old.status, appointment.status) == ("no_show", "booked")
    assert list(old.events.values_list("action", "by")) == [("booked", "applicant"), ("no_show", "system")]


def test_a_missed_appointment_of_today_still_blocks_a_new_one(office, screening, published):
    old = book(screening, first_slot(office))
    later = old.slot.ends_at + datetime.timedelta(minutes=5)  # the same day at the office
    error = error_of(
        lambda: book(
            make_screening(published, created_at=later),
            first_slot(office, after=later + datetime.timedelta(days=1)),
            now=later,
        )
    )
    assert error.code == "duplicate"
    old.refresh_from_db()
    assert old.status == "booked"


def test_the_same_booking_key_twice_books_once(office, screening):
    slot = first_slot(office)
    booking_key = key()
    first = book(screening, slot, booking_key=booking_key)
    second = book(screening, slot, booking_key=booking_key)
    assert first.pk == second.pk
    slot.refresh_from_db()
    assert Appointment.objects.count() == 1
    assert slot.taken == 1


def test_the_database_refuses_to_overbook_even_without_the_lock(office):
    slot = first_slot(office)
    Slot.objects.filter(pk=slot.pk).update(taken=2)
    with pytest.raises(IntegrityError, match="appointments_slot_within_capacity"), transaction.atomic():
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + 1)


# ---------------------------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------------------------
def test_a_hold_counts_against_capacity_until_it_expires(office, screening, published):
    def someone():
        return make_screening(published, created_at=NOW)

    slot = first_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    assert hold.expires_at == NOW + datetime.timedelta(minutes=10)
    assert places_left(slot) == 1
    assert places_left(slot, now=hold.expires_at) == 2
    hold_slot(slot_id=slot.pk, screening=someone(), now=NOW)
    assert error_of(lambda: hold_slot(slot_id=slot.pk, screening=someone(), now=NOW)).code == "full"
    # Once expired, a hold's place is reused even before the purge runs.
    assert hold_slot(slot_id=slot.pk, screening=someone(), now=hold.expires_at).pk


def test_confirming_converts_the_hold(office, screening):
    slot = first_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    appointment = book(screening, slot, hold=hold.token, now=NOW + datetime.timedelta(minutes=9))
    slot.refresh_from_db()
    assert appointment.pk
    assert slot.taken == 1
    assert not Hold.objects.exists()


def test_choosing_another_time_releases_the_previous_hold(office, screening):
    first, second = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:2]
    hold = hold_slot(slot_id=first.pk, screening=screening, now=NOW)
    hold_slot(slot_id=second.pk, screening=screening, replaces=hold.token, now=NOW)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.taken, second.taken, Hold.objects.count()) == (0, 1, 1)


def test_expired_hold_with_places_left_still_books(office, screening):
    slot = first_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    appointment = book(screening, slot, hold=hold.token, now=NOW + datetime.timedelta(minutes=11))
    slot.refresh_from_db()
    assert appointment.pk
    assert slot.taken == 1
    assert not Hold.objects.exists()


def test_expired_hold_and_the_slot_now_full(office, screening):
    slot = first_slot(office)
    hold = hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    later = NOW + datetime.timedelta(minutes=11)
    book(screening, slot, details=details(document_number="B1"), now=later)
    book(screening, slot, details=details(document_number="B2"), now=later)
    error = error_of(lambda: book(screening, slot, hold=hold.token, now=later))
    assert error.code == "full"
    slot.refresh_from_db()
    assert slot.taken == 2


def test_purge_gives_back_expired_places(office, screening, published):
    slot = first_slot(office)
    hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    later = make_screening(published, created_at=NOW)
    hold_slot(slot_id=slot.pk, screening=later, now=NOW + datetime.timedelta(minutes=5))
    assert purge_expired_holds(now=NOW + datetime.timedelta(minutes=12)) == 1
    slot.refresh_from_db()
    assert slot.taken == 1
    assert Hold.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Cancel and move
# ---------------------------------------------------------------------------------------------
def test_cancel_gives_the_place_back(office, screening):
    slot = first_slot(office)
    appointment = book(screening, slot)
    cancelled = cancel_appointment(appointment_id=appointment.pk, expected_revision=0, now=NOW)
    slot.refresh_from_db()
    assert (cancelled.status, cancelled.revision, cancelled.cancelled_at, slot.taken) == ("cancelled", 1, NOW, 0)
    error = error_of(lambda: cancel_appointment(appointment_id=appointment.pk, now=NOW))
    assert error.code == "stale"
    assert "cancelled" in error.message
    # The person can book again.
    assert book(screening, slot).pk


def test_move_takes_the_new_place_and_releases_the_old(office, screening):
    old, new = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:2]
    appointment = book(screening, old)
    moved = move_appointment(appointment_id=appointment.pk, slot_id=new.pk, expected_revision=0, now=NOW)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (moved.slot_id, moved.revision, old.taken, new.taken) == (new.pk, 1, 0, 1)
    assert list(moved.events.values_list("action", flat=True)) == ["booked", "moved"]


def test_move_to_a_full_slot_keeps_the_old_one(office, screening):
    old, new = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:2]
    appointment = book(screening, old)
    Slot.objects.filter(pk=new.pk).update(taken=2)
    error = error_of(lambda: move_appointment(appointment_id=appointment.pk, slot_id=new.pk, now=NOW))
    assert error.code == "full"
    appointment.refresh_from_db()
    old.refresh_from_db()
    assert appointment.slot_id == old.pk
    assert old.taken == 1
    assert appointment.revision == 0


def test_a_change_based_on_an_old_page_is_refused(office, screening):
    old, new = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:2]
    appointment = book(screening, old)
    move_appointment(appointment_id=appointment.pk, slot_id=new.pk, expected_revision=0, now=NOW)
    error = error_of(lambda: cancel_appointment(appointment_id=appointment.pk, expected_revision=0, now=NOW))
    assert error.code == "stale"
    assert Appointment.objects.get().status == "booked"


def test_day_summaries_show_places_and_closures(office, screening):
    slot = first_slot(office)
    book(screening, slot)
    closed_day = datetime.date(2026, 11, 30)
    Closure.objects.create(office=office, starts_on=closed_day, ends_on=closed_day, reason="Holiday")
    days = {day.date: day for day in bookable_days(office, NOW)}
    first_day = slot.local_start().date()
    assert days[first_day].places_left == sum(s.capacity for s in days[first_day].slots) - 1
    assert days[closed_day].closed
    assert days[closed_day].places_left == 0
    assert datetime.date(2026, 11, 28) not in days  # Saturday: no hours
    assert max(days) == datetime.date(2026, 12, 7)
    assert AppointmentEvent.objects.count() == 1


def test_places_left_equals_capacity_minus_rows_whatever_the_history(office, screening, published):
    slot = first_slot(office)
    Slot.objects.filter(pk=slot.pk).update(capacity=5)
    kept = book(screening, slot, details=details(document_number="K1"))
    cancelled = book(make_screening(published, created_at=NOW), slot, details=details(document_number="K2"))
    cancel_appointment(appointment_id=cancelled.pk, now=NOW)
    hold_slot(slot_id=slot.pk, screening=screening, now=NOW)
    # Taken twenty minutes ago by someone else: expired at NOW, and not purged yet.
    expired = hold_slot(
        slot_id=slot.pk, screening=make_screening(published, created_at=NOW), now=NOW - datetime.timedelta(minutes=20)
    )
    by_rows = (
        5
        - Appointment.objects.filter(slot=slot, status="booked").count()
        - Hold.objects.filter(slot=slot, expires_at__gt=NOW).count()
    )
    assert Hold.objects.filter(pk=expired.pk).exists()  # not purged yet
    assert kept.status == "booked"
    assert places_left(slot) == by_rows == 3


def test_one_screening_holds_one_place_whatever_the_number_of_browsers(office, screening):
    first, second = Slot.objects.filter(office=office, starts_at__gte=NOW + datetime.timedelta(days=1))[:2]
    hold_slot(slot_id=first.pk, screening=screening, now=NOW)
    hold_slot(slot_id=first.pk, screening=screening, now=NOW)  # the same result, another browser
    last = hold_slot(slot_id=second.pk, screening=screening, now=NOW)
    first.refresh_from_db()
    second.refresh_from_db()
    assert list(Hold.objects.values_list("pk", flat=True)) == [last.pk]
    assert (first.taken, second.taken) == (0, 1)
