"""`load_demo_data` is idempotent and refuses to run outside local development."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from appointments.demo import DEMO_OFFICES
from appointments.models import Closure, Office, Slot
from appointments.selectors import bookable_days
from core.services import DEMO_ACCOUNTS, ROLES

pytestmark = pytest.mark.django_db


def test_loading_twice_creates_each_account_and_role_once(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo_data")
    call_command("load_demo_data")
    user_model = get_user_model()
    assert user_model.objects.count() == len(DEMO_ACCOUNTS)
    assert Group.objects.count() == len(ROLES)
    for account in DEMO_ACCOUNTS:
        # With a request, as a sign-in page calls it (the sign-in lockout needs the address).
        user = authenticate(
            RequestFactory().post("/admin/login/"), username=account.username, password=account.password
        )
        assert user is not None, account.username
        assert user.is_staff
        assert list(user.groups.values_list("name", flat=True)) == [account.role]


def test_demo_offices_can_be_booked_at_once(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo_data")
    slots_before = Slot.objects.count()
    call_command("load_demo_data")
    assert Slot.objects.count() == slots_before
    offices = {office.city: office for office in Office.objects.filter(slug__in=[d.slug for d in DEMO_OFFICES])}
    assert set(offices) == {"Ciudad de Guatemala", "Bogotá", "San José", "Quito"}
    assert set(Office.objects.exclude(pk__in=[o.pk for o in offices.values()]).values_list("city", flat=True)) == {
        "Quetzaltenango",  # the lottery and the full office (the waitlist), tested below
        "Antigua",
    }
    assert {office.time_zone for office in offices.values()} == {
        "America/Guatemala",
        "America/Bogota",
        "America/Costa_Rica",
        "America/Guayaquil",
    }
    assert Closure.objects.filter(office=offices["Bogotá"]).count() == 1
    for office in offices.values():
        assert office.pathways.exists()
        assert office.hours.exists()
        days = bookable_days(office, timezone.now())
        assert sum(day.places_left for day in days) > 50, office
    assert any(day.closed for day in bookable_days(offices["Bogotá"], timezone.now()))
    staff = get_user_model().objects.get(username="staff")
    assert list(staff.offices.all()) == [offices["Ciudad de Guatemala"]]


def test_refuses_without_debug(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only for local development"):
        call_command("load_demo_data")
    assert get_user_model().objects.count() == 0


def test_the_demo_queue_is_live_at_once_and_loaded_once(published) -> None:
    """`make run` books today's appointments at each demo office and runs the morning so far."""
    import datetime

    from appointments.demo import load_demo_offices
    from appointments.models import Appointment
    from desk.demo import load_demo_queues
    from desk.models import Ticket

    get_user_model().objects.create_user(username="staff")
    midday = datetime.datetime(2026, 11, 23, 19, tzinfo=datetime.UTC)  # Monday 13:00 in Guatemala City
    load_demo_offices(now=midday - datetime.timedelta(days=3))
    booked = load_demo_queues(now=midday)
    guatemala = Office.objects.get(slug="guatemala")
    today = Appointment.objects.filter(office=guatemala)
    assert booked == 4 * 12
    assert today.count() == 12
    statuses = set(today.values_list("status", flat=True))
    assert {"served", "called", "checked_in", "booked"} <= statuses
    tickets = sorted(Ticket.objects.filter(office=guatemala).values_list("number", flat=True))
    assert tickets == list(range(1, len(tickets) + 1))
    assert len(tickets) >= 5
    assert load_demo_queues(now=midday) == 0  # once a day
    assert Appointment.objects.count() == 4 * 12


def test_the_demo_has_four_weeks_of_history_for_the_reports(published) -> None:
    """`make run` adds past appointments so the report shows real-looking figures, once."""
    import datetime

    from appointments.demo import load_demo_offices
    from appointments.models import Appointment
    from reports.demo import PER_DAY, WEEKS, load_demo_history
    from reports.figures import figures
    from reports.models import DailyStat

    now = datetime.datetime(2026, 11, 23, 19, tzinfo=datetime.UTC)
    load_demo_offices(now=now - datetime.timedelta(days=3))
    made = load_demo_history(now=now)
    assert WEEKS * 7 * PER_DAY < made <= 4 * WEEKS * 7 * PER_DAY
    assert Appointment.objects.filter(document_number__startswith="HIST").count() == made
    assert load_demo_history(now=now) == 0  # once
    past = Appointment.objects.filter(slot__starts_at__lt=now - datetime.timedelta(days=1))
    assert set(past.values_list("status", flat=True)) == {"served", "no_show", "cancelled"}
    guatemala = Office.objects.get(slug="guatemala")
    found = figures(offices=[guatemala], first=datetime.date(2026, 10, 26), last=datetime.date(2026, 11, 22))
    # Every past day is counted into the daily statistics: the report reads them, not the appointments.
    assert (found.counted_days, found.live_days) == (WEEKS * 7, 0)
    assert found.total.booked > WEEKS * 5 * PER_DAY / 2
    assert 0 < found.total.no_show_rate < 0.3
    assert found.total.wait.median is not None
    assert found.started > found.screenings > 0  # some stopped before the end
    assert DailyStat.objects.filter(office=guatemala).count() >= WEEKS * 7


def test_the_demo_has_a_lottery_taking_requests_now_and_drawn_within_the_hour(settings, published) -> None:
    """`make run` gives a lottery office whose window is open, so a newcomer can make a request
    and see the draw an hour later; a later run opens a new window once that one is drawn, never
    overlapping it."""
    import datetime

    from django.test import Client

    from allocation import lottery_services
    from allocation.demo import load_demo_allocation
    from allocation.models.lottery import Draw
    from eligibility.services import screening_reference
    from tests.appointments.conftest import make_screening

    settings.DEBUG = True
    call_command("load_demo_data")
    assert load_demo_allocation()["booked"] == 0  # again: the same draw, nothing more to fill
    office = Office.objects.get(slug="quetzaltenango")
    assert office.allocation == Office.Allocation.LOTTERY
    assert office.country.code == "GT"  # reached with the README's answers, beside Guatemala City
    now = timezone.now()
    (draw,) = Draw.objects.filter(office=office)
    assert draw == lottery_services.open_draw_of(office, now)
    assert draw.status == Draw.Status.OPEN
    assert len(draw.seed_hash) == 64
    assert now < draw.closes_at <= now + datetime.timedelta(hours=1)
    # The period has free places that a winner could still confirm in time.
    assert lottery_services._period_slots(draw, draw.closes_at)
    page = Client().get("/en/lottery/quetzaltenango/").content.decode()
    assert draw.seed_hash in page
    person = Client()
    screening = make_screening(published, created_at=now, host_country="GT")
    assert person.get("/en/book/", {"screening": screening_reference(screening)}).status_code == 302
    assert person.get("/en/lottery/quetzaltenango/request/").status_code == 200  # the request form

    # After the draw, a new run opens the next window, its days after the first draw's.
    lottery_services.run_draw(draw_id=draw.pk, now=draw.closes_at)
    later = draw.closes_at + datetime.timedelta(minutes=5)
    second = load_demo_allocation(now=later)["draw"]
    assert second.pk != draw.pk
    assert second.status == Draw.Status.OPEN
    assert second.opens_at >= draw.closes_at
    assert second.period_start > draw.period_end
    assert load_demo_allocation(now=later)["draw"] == second


def test_the_demo_has_a_full_office_whose_day_page_offers_the_waitlist(settings, published) -> None:
    from django.test import Client

    from allocation.demo import load_demo_allocation
    from appointments.models import Appointment
    from eligibility.services import screening_reference
    from tests.appointments.conftest import make_screening

    settings.DEBUG = True
    call_command("load_demo_data")
    office = Office.objects.get(slug="antigua")
    filled = Appointment.objects.filter(office=office, document_number__startswith="FULL")
    booked = filled.count()
    days = bookable_days(office, timezone.now())
    assert days
    assert sum(day.places_left for day in days) == 0
    assert booked >= len(days)
    assert load_demo_allocation()["booked"] == 0
    assert filled.count() == booked  # nothing more to fill
    person = Client()
    screening = make_screening(published, created_at=timezone.now(), host_country="GT")
    assert person.get("/en/book/", {"screening": screening_reference(screening)}).status_code == 302
    page = person.get("/en/book/office/antigua/").content.decode()
    assert "/en/waitlist/join/antigua/" in page
