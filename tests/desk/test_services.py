"""The desk's actions, each with its exact outcome: tickets, calls, serving, no-shows, the
check-in window, and refusals that change nothing."""

import datetime
import uuid

import pytest
from django.utils import timezone

from appointments.errors import BookingError
from appointments.lifecycle import Transition
from appointments.models import Appointment, Slot
from appointments.services.booking import book_appointment
from appointments.services.changes import cancel_appointment
from desk import services
from desk.models import Counter, DeskSettings, Ticket
from tests.appointments.conftest import details, make_screening, row_locked
from tests.desk.conftest import book_today, make_office, staff_of

pytestmark = pytest.mark.django_db


def error_of(call) -> BookingError:
    with pytest.raises(BookingError) as info:
        call()
    return info.value


def unchanged(appointment: Appointment) -> bool:
    now = Appointment.objects.get(pk=appointment.pk)
    return (now.status, now.revision) == (appointment.status, appointment.revision)


@pytest.fixture
def user(desk_office):
    return staff_of(desk_office)[1]


def test_check_in_gives_the_next_ticket_of_the_office_s_day(desk_office, published, user):
    people = [book_today(desk_office, published, n) for n in range(3)]
    tickets = [services.check_in(office=desk_office, appointment_id=a.pk, actor=user) for a in people]
    assert [t.code for t in tickets] == ["A-001", "A-002", "A-003"]
    appointment = Appointment.objects.get(pk=people[0].pk)
    assert appointment.status == "checked_in"
    event = appointment.events.last()
    assert (event.action, event.by, event.actor, event.data) == ("checked_in", "staff", user, {"ticket": "A-001"})


def test_each_office_counts_its_own_tickets_with_its_own_letter(desk_office, other_office, published, user):
    DeskSettings.objects.filter(office=other_office).update(ticket_prefix="B")
    other_office.staff.add(user)
    here = services.check_in(office=desk_office, appointment_id=book_today(desk_office, published, 1).pk, actor=user)
    there = services.check_in(office=other_office, appointment_id=book_today(other_office, published, 2).pk, actor=user)
    assert (here.code, there.code) == ("A-001", "B-001")


def test_check_in_refusals_change_nothing(desk_office, other_office, published, user):
    mine = book_today(desk_office, published, 1)
    theirs = book_today(other_office, published, 2)
    error = error_of(lambda: services.check_in(office=desk_office, appointment_id=theirs.pk, actor=user))
    assert (error.code, error.message) == ("wrong_place", "This appointment is for another office.")
    assert unchanged(theirs)

    services.check_in(office=desk_office, appointment_id=mine.pk, actor=user)
    error = error_of(lambda: services.check_in(office=desk_office, appointment_id=mine.pk, actor=user))
    assert error.code == "not_allowed"
    assert error.message == f"The appointment {mine.display_reference} is already checked in, with ticket A-001."
    assert Ticket.objects.count() == 1

    cancelled = cancel_appointment(appointment_id=book_today(desk_office, published, 39).pk)
    error = error_of(lambda: services.check_in(office=desk_office, appointment_id=cancelled.pk, actor=user))
    assert error.message == f"The appointment {cancelled.display_reference} was cancelled: it cannot be checked in."
    assert unchanged(cancelled)


def test_an_appointment_of_another_day_is_refused(desk_office, published, user):
    today = desk_office.local_today(timezone.now())
    tomorrow_start, _ = services.day_bounds(desk_office, today + datetime.timedelta(days=1))
    slot = Slot.objects.filter(office=desk_office, starts_at__gte=tomorrow_start).order_by("starts_at").first()
    tomorrow = book_today(desk_office, published, 1, slot=slot)
    error = error_of(lambda: services.check_in(office=desk_office, appointment_id=tomorrow.pk, actor=user))
    assert error.code == "wrong_place"
    assert "not today" in error.message
    assert unchanged(tomorrow)


def test_check_in_opens_and_closes_around_the_appointment(desk_office, published, user):
    DeskSettings.objects.filter(office=desk_office).update(check_in_before_minutes=60, check_in_after_minutes=30)
    appointment = book_today(desk_office, published, 20)
    starts = appointment.slot.starts_at
    local = starts.astimezone(desk_office.zone)
    early = error_of(
        lambda: services.check_in(
            office=desk_office, appointment_id=appointment.pk, actor=user, now=starts - datetime.timedelta(minutes=61)
        )
    )
    opens = (local - datetime.timedelta(hours=1)).strftime("%H:%M")
    assert (early.code, early.message) == ("not_now", f"Check-in for {appointment.display_reference} opens at {opens}.")
    late = error_of(
        lambda: services.check_in(
            office=desk_office, appointment_id=appointment.pk, actor=user, now=starts + datetime.timedelta(minutes=31)
        )
    )
    assert late.code == "not_now"
    assert unchanged(appointment)
    for at in (starts - datetime.timedelta(minutes=60), starts + datetime.timedelta(minutes=30)):
        Ticket.objects.all().delete()
        Appointment.objects.filter(pk=appointment.pk).update(status="booked")
        assert services.check_in(office=desk_office, appointment_id=appointment.pk, actor=user, now=at)


def test_call_next_takes_the_longest_waiting_then_serve(desk_office, published, user):
    counter = Counter.objects.get(office=desk_office, number=2)
    first, second = (book_today(desk_office, published, n) for n in (5, 1))
    now = timezone.now()
    services.check_in(office=desk_office, appointment_id=first.pk, actor=user, now=now)
    services.check_in(office=desk_office, appointment_id=second.pk, actor=user, now=now + datetime.timedelta(seconds=1))
    called = services.call_next(office=desk_office, counter_id=counter.pk, actor=user)
    assert (called.appointment_id, called.counter, called.times_called) == (first.pk, counter, 1)
    later = now + datetime.timedelta(minutes=5)
    again = services.call_ticket(office=desk_office, ticket_id=called.pk, counter_id=counter.pk, actor=user, now=later)
    assert again.times_called == 2
    # The waiting time ends at the first call: calling again keeps it.
    assert again.first_called_at == called.called_at < again.called_at
    served = services.finish_ticket(
        office=desk_office, ticket_id=called.pk, transition=Transition.SERVE, actor=user, now=later
    )
    assert served.finished_at is not None
    assert list(Appointment.objects.get(pk=first.pk).events.values_list("action", flat=True)) == [
        "booked",
        "checked_in",
        "called",
        "recalled",
        "served",
    ]
    nobody = services.call_next(office=desk_office, counter_id=counter.pk, actor=user)
    assert nobody.appointment_id == second.pk
    error = error_of(lambda: services.call_next(office=desk_office, counter_id=counter.pk, actor=user))
    assert (error.code, error.message) == ("not_allowed", "Nobody is waiting.")


def test_requeue_and_no_show(desk_office, published, user):
    counter = Counter.objects.get(office=desk_office, number=1)
    appointment = book_today(desk_office, published, 3)
    ticket = services.check_in(office=desk_office, appointment_id=appointment.pk, actor=user)
    services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=counter.pk, actor=user)
    back = services.finish_ticket(office=desk_office, ticket_id=ticket.pk, transition=Transition.REQUEUE, actor=user)
    assert back.counter is None
    assert Appointment.objects.get(pk=appointment.pk).status == "checked_in"
    services.finish_ticket(office=desk_office, ticket_id=ticket.pk, transition=Transition.NO_SHOW, actor=user)
    assert Appointment.objects.get(pk=appointment.pk).status == "no_show"
    error = error_of(
        lambda: services.finish_ticket(office=desk_office, ticket_id=ticket.pk, transition=Transition.SERVE, actor=user)
    )
    assert error.code == "not_allowed"


def test_a_counter_of_another_office_is_refused(desk_office, other_office, published, user):
    appointment = book_today(desk_office, published, 3)
    ticket = services.check_in(office=desk_office, appointment_id=appointment.pk, actor=user)
    foreign = Counter.objects.get(office=other_office, number=1)
    error = error_of(
        lambda: services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=foreign.pk, actor=user)
    )
    assert error.message == "Choose one of this office's counters."
    assert unchanged(Appointment.objects.get(pk=appointment.pk))


def test_a_booked_person_is_a_no_show_only_after_their_time(desk_office, published, user):
    appointment = book_today(desk_office, published, 30)
    before = appointment.slot.starts_at - datetime.timedelta(minutes=1)
    error = error_of(
        lambda: services.mark_no_show(office=desk_office, appointment_id=appointment.pk, actor=user, now=before)
    )
    assert error.code == "not_now"
    done = services.mark_no_show(
        office=desk_office, appointment_id=appointment.pk, actor=user, now=appointment.slot.starts_at
    )
    assert done.status == "no_show"


def test_end_of_day_closes_the_day_once(desk_office, published, user):
    booked = book_today(desk_office, published, 1)
    waiting = book_today(desk_office, published, 2)
    served = book_today(desk_office, published, 3)
    ticket = services.check_in(office=desk_office, appointment_id=waiting.pk, actor=user)
    done = services.check_in(office=desk_office, appointment_id=served.pk, actor=user)
    services.finish_ticket(office=desk_office, ticket_id=done.pk, transition=Transition.SERVE, actor=user)
    today = desk_office.local_today(timezone.now())
    _, end = services.day_bounds(desk_office, today)
    nothing = {"did_not_come": 0, "office_closed": 0, "still_waiting_at_closing": 0}
    assert services.close_finished_days(now=end - datetime.timedelta(minutes=1)) == nothing
    evening = end + datetime.timedelta(minutes=60)  # the next day at the office: today is over
    done = {"did_not_come": 1, "office_closed": 0, "still_waiting_at_closing": 1}
    assert services.close_finished_days(now=evening) == done
    assert services.close_finished_days(now=evening) == nothing
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert (statuses[booked.pk], statuses[waiting.pk], statuses[served.pk]) == ("no_show", "no_show", "served")
    ticket.refresh_from_db()
    assert (ticket.closed_reason, ticket.finished_at) == ("still_waiting", evening)
    event = Appointment.objects.get(pk=booked.pk).events.last()
    assert (event.action, event.by, event.actor, event.data) == ("no_show", "system", None, {"reason": "did_not_come"})


def test_each_office_closes_at_its_own_evening(published):
    madrid = make_office("Madrid", time_zone="Europe/Madrid")
    bogota = make_office("Bogotá", time_zone="America/Bogota")
    # Both open 08:00–16:00 on that Monday, one hour of grace.
    for office in (madrid, bogota):
        office.hours.all().delete()
        office.hours.create(weekday=0, opens=datetime.time(8), closes=datetime.time(16), capacity=2)
    monday = datetime.date(2026, 11, 23)
    madrid_ends = services.day_ends_at(madrid, monday)
    bogota_ends = services.day_ends_at(bogota, monday)
    assert madrid_ends == datetime.datetime(2026, 11, 23, 16, tzinfo=datetime.UTC)  # 17:00 in Madrid
    assert bogota_ends == datetime.datetime(2026, 11, 23, 22, tzinfo=datetime.UTC)  # 17:00 in Bogotá


def test_a_call_texts_the_person_when_the_office_wants_it(desk_office, published, user):
    from notifications.models import Notification
    from notifications.sending import render
    from notifications.sms import to_gsm7

    appointment = book_today(desk_office, published, 4, email="p@example.org")  # language "es"
    ticket = services.check_in(office=desk_office, appointment_id=appointment.pk, actor=user)
    counters = {c.number: c for c in Counter.objects.filter(office=desk_office)}
    services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=counters[1].pk, actor=user)
    assert not Notification.objects.filter(kind="turn").exists()  # off by default

    DeskSettings.objects.filter(office=desk_office).update(call_sms=True)
    services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=counters[2].pk, actor=user)
    turn = Notification.objects.get(kind="turn")  # SMS only, even with an e-mail address
    assert (turn.channel, turn.details) == ("sms", {"ticket": "A-001", "counter": 2})
    assert render(turn).sms == to_gsm7(
        f"Su turno: turno A-001, ventanilla 2, oficina {desk_office.city}. Cita {appointment.display_reference}."
    )
    Notification.objects.filter(pk=turn.pk).update(status="sent")
    services.call_ticket(office=desk_office, ticket_id=ticket.pk, counter_id=counters[3].pk, actor=user)
    again = Notification.objects.get(kind="turn")  # the same row, sent again with the new counter
    assert (again.status, again.details["counter"]) == ("pending", 3)


def test_end_of_day_cancels_what_a_closure_left_instead_of_calling_it_a_no_show(desk_office, published, user):
    closed = book_today(desk_office, published, 1)
    Slot.objects.filter(pk=closed.slot_id).update(capacity=0, stranded=1)  # a closure over its time
    _, end = services.day_bounds(desk_office, desk_office.local_today(timezone.now()))
    counts = services.close_finished_days(now=end + datetime.timedelta(hours=1))
    assert counts["office_closed"] == 1
    after = Appointment.objects.get(pk=closed.pk)
    assert after.status == "cancelled"
    event = after.events.last()
    assert (event.action, event.by, event.data) == ("cancelled", "system", {"reason": "office_closed"})
    slot = Slot.objects.get(pk=closed.slot_id)
    assert (slot.taken, slot.stranded) == (0, 0)


def test_the_end_of_day_waits_for_the_grace_period_past_midnight(published):
    office = make_office("Late office", time_zone="America/Bogota")
    office.hours.all().delete()
    office.hours.create(weekday=0, opens=datetime.time(20), closes=datetime.time(23, 30), capacity=2)
    DeskSettings.objects.filter(office=office).update(closing_grace_minutes=120)  # ends at 01:30 on Tuesday
    monday = datetime.date(2026, 11, 23)
    ends = services.day_ends_at(office, monday)
    assert ends == datetime.datetime(2026, 11, 24, 6, 30, tzinfo=datetime.UTC)  # 01:30 in Bogotá
    slot = Slot.objects.create(
        office=office,
        starts_at=datetime.datetime(2026, 11, 24, 2, tzinfo=datetime.UTC),  # Monday 21:00 in Bogotá
        ends_at=datetime.datetime(2026, 11, 24, 2, 30, tzinfo=datetime.UTC),
        capacity=2,
    )
    booked_at = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC)
    appointment = book_appointment(
        screening=make_screening(published, created_at=booked_at),
        slot_id=slot.pk,
        details=details(document_number="LATE1"),
        booking_key=uuid.uuid4(),
        now=booked_at,
    )
    before = services.close_finished_days(now=ends - datetime.timedelta(minutes=1))
    assert before["did_not_come"] == 0
    assert Appointment.objects.get(pk=appointment.pk).status == "booked"
    assert services.close_finished_days(now=ends)["did_not_come"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_row_a_desk_holds_postpones_only_that_appointment(desk_office, published, settings):
    settings.BOOKING_LOCK_TIMEOUT_MS = 100
    held, other = book_today(desk_office, published, 1), book_today(desk_office, published, 2)
    _, end = services.day_bounds(desk_office, desk_office.local_today(timezone.now()))
    with row_locked(held):  # a desk is changing this one at this moment
        counts = services.close_finished_days(now=end + datetime.timedelta(hours=1))
    assert counts["did_not_come"] == 1
    assert dict(Appointment.objects.values_list("pk", "status")) == {held.pk: "booked", other.pk: "no_show"}
