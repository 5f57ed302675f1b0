"""The report's figures on a small data set computed by hand, in a bounded number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, AppointmentEvent
from core.services import ROLE_SUPERVISOR
from desk.models import Ticket
from eligibility.models import Screening
from reports.exports import rows
from reports.figures import Choice, chart, figures
from reports.services import refresh_daily_stats
from reports.stats import first_eligible, pathway_codes
from tests.appointments.conftest import make_screening
from tests.reports.test_exports import booked, office, signed_in, user_in

__all__ = ["office"]  # the fixture
pytestmark = pytest.mark.django_db


@pytest.fixture
def data(office, published):
    """Four appointments on the same day: served (waited 20 minutes), no-show, cancelled, booked;
    each booked exactly 2 days before its time except the served one (4 days)."""
    people = [booked(office, published, n // 2, document_number=f"X{n}00000", full_name=f"P {n}") for n in range(4)]
    served, no_show, cancelled, waiting = people
    for person, status, days in (
        (served, "served", 4),
        (no_show, "no_show", 2),
        (cancelled, "cancelled", 2),
        (waiting, "booked", 2),
    ):
        Appointment.objects.filter(pk=person.pk).update(
            status=status, created_at=person.slot.starts_at - datetime.timedelta(days=days)
        )
    start = served.slot.starts_at
    AppointmentEvent.objects.create(appointment=waiting, action="moved")
    Ticket.objects.create(
        appointment=served,
        office=office,
        day=served.slot.local_start().date(),
        prefix="A",
        number=1,
        checked_in_at=start,
        called_at=start + datetime.timedelta(minutes=20),
    )
    # Two more screenings in Colombia, one eligible for refugee processing.
    make_screening(published, eligible=("refugee",))
    make_screening(published, eligible=())
    return office, people


def period_of(office, people):
    return {"offices": [office], "first": timezone.localdate(), "last": people[0].slot.local_start().date()}


def test_figures_on_a_known_data_set(data) -> None:
    office, people = data
    day = people[0].slot.local_start().date()
    found = figures(**period_of(office, people))
    total = found.total
    assert (total.booked, total.cancelled, total.attended, total.served, total.no_show) == (4, 1, 1, 1, 1)
    assert total.moved == 1
    assert total.no_show_rate == 0.5  # 1 no-show of the 2 whose time came
    assert total.cancellation_rate == 0.25
    start = datetime.datetime.combine(timezone.localdate(), datetime.time.min, tzinfo=office.zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=office.zone)
    offered = sum(slot.capacity for slot in office.slots.filter(starts_at__gte=start, starts_at__lt=end))
    assert found.places_offered == offered > 0
    assert found.capacity_use == 3 / offered  # cancelled places are free again
    # Lead times of the three not cancelled: 4, 2 and 2 days. Nearest rank: the median is the 2nd
    # of 3 (2 days), the 90th percentile the 3rd (4 days).
    assert (total.lead.median, total.lead.p90) == (2 * 86400, 4 * 86400)
    assert (total.wait.median, total.wait.p90) == (20 * 60, 20 * 60)
    # Every day of the period, the empty ones too: the chart keeps its time scale.
    assert found.days[-1] == (day, 4, 1)
    assert [row[0] for row in found.days] == [
        timezone.localdate() + datetime.timedelta(days=n) for n in range(len(found.days))
    ]
    assert sum(booked for _day, booked, _came in found.days) == 4
    (row,) = found.offices
    assert (row.name, row.tally.booked, row.tally.no_show_rate) == ("Oficina Bogotá", 4, 0.5)
    # Each of the four booked with its own eligible screening, and the two more: 6, 5 eligible.
    assert found.screenings == 6
    assert found.eligible_any == 5
    assert dict(found.eligible) == {
        "refugee": 5,
        "family-reunification": 0,
        "temporary-work": 0,
        "labour-other-countries": 0,
    }
    assert [n for _step, n in found.funnel] == [0, 6, 5, 4, 1]  # no screener started through the pages here
    assert found.counted_days == 0  # nothing counted yet: every day from the appointments


def test_counted_days_give_the_same_figures_as_the_appointments(data) -> None:
    """Once the days are in the daily statistics the report reads them, and the figures do not
    change, even after the appointments' personal data is gone."""
    office, people = data
    period = period_of(office, people)
    live = figures(**period)
    assert live.counted_days == 0
    days = [period["first"] + datetime.timedelta(days=n) for n in range((period["last"] - period["first"]).days + 1)]
    refresh_daily_stats(office=office, days=days)
    Appointment.objects.update(full_name="", document_number="0", phone="", email="")
    Ticket.objects.all().delete()
    AppointmentEvent.objects.all().delete()
    stored = figures(**period)
    assert (stored.counted_days, stored.live_days) == (len(days), 0)
    assert stored.total == live.total
    assert (stored.days, stored.offices) == (live.days, live.offices)


def test_the_filters_on_the_kind_of_applicant(data, published) -> None:
    office, people = data
    period = period_of(office, people)
    assert figures(**period, choice=Choice(nationality="VE")).total.booked == 4
    assert figures(**period, choice=Choice(nationality="CU")).total.booked == 0
    assert figures(**period, choice=Choice(host_country="CO")).total.booked == 4
    assert figures(**period, choice=Choice(host_country="EC")).screenings == 0
    assert figures(**period, choice=Choice(pathway="refugee")).total.booked == 4
    assert figures(**period).capacity_use is not None
    assert figures(**period, choice=Choice(nationality="VE")).capacity_use is None  # places are not per nationality
    only_work = figures(**period, choice=Choice(pathway="temporary-work"))
    assert (only_work.total.booked, only_work.screenings) == (0, 0)


def test_an_applicant_counts_under_the_first_pathway_that_may_fit(office, published) -> None:
    codes = pathway_codes()
    first, second = codes[0], codes[1]
    both = make_screening(published, eligible=(first, second))
    later = make_screening(published, eligible=(second,))
    # An older screening whose outcomes do not name the first pathway at all.
    missing = make_screening(published, eligible=(second,))
    missing.outcomes.pop(first)
    missing.save()
    assert set(Screening.objects.filter(first_eligible("", first, codes))) == {both}
    assert set(Screening.objects.filter(first_eligible("", second, codes))) == {later, missing}


def test_the_chart_scales_to_the_tallest_day() -> None:
    drawn = chart([(datetime.date(2026, 12, 1), 10, 5), (datetime.date(2026, 12, 2), 5, 0)])
    first, second = drawn["bars"]
    assert (first.booked_height, first.booked_y) == (190, 10)
    assert (second.booked_height, second.attended_height) == (95, 0)
    assert chart([])["bars"] == []


def test_the_report_page_in_a_bounded_number_of_queries(data, published) -> None:
    office, people = data
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    params = {
        "date_from": str(timezone.localdate() - datetime.timedelta(days=60)),
        "date_to": str(people[0].slot.local_start().date()),
    }

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/admin/report/", params)
        assert response.status_code == 200
        return len(captured)

    before = queries()
    html = client.get("/admin/report/", params).content.decode()
    assert "<svg" in html
    assert "50 %" in html  # the no-show rate
    for n in range(3):
        booked(office, published, 2 + n, document_number=f"Y{n}00000")
    assert queries() == before, "more appointments, the same number of queries"
    first = timezone.localdate() - datetime.timedelta(days=60)
    refresh_daily_stats(office=office, days=[first + datetime.timedelta(days=n) for n in range(60)])
    assert queries() <= before, "past days read from the daily statistics: no more queries"
    assert before <= 25


def test_local_times_written_by_the_database_match_python_s(data) -> None:
    _office, people = data
    Appointment.objects.filter(status="cancelled").update(cancelled_at=timezone.now())
    by_sql = list(rows(Appointment.objects.all(), personal=True, in_sql=True))
    by_python = list(rows(Appointment.objects.all(), personal=True, in_sql=False))
    assert by_sql == by_python
    header = by_sql[0]
    served = next(row for row in by_sql[1:] if row[header.index("checked in")])  # the one ticket
    assert served[header.index("checked in")] == people[0].slot.local_start().strftime("%H:%M")
    assert served[header.index("day")] == people[0].slot.local_start().strftime("%Y-%m-%d")


def test_the_report_reads_in_spanish(data) -> None:
    _office, people = data
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    params = {"date_from": str(timezone.localdate()), "date_to": str(people[0].slot.local_start().date())}
    html = client.get("/admin/report/", params, headers={"accept-language": "es"}).content.decode()
    for text in ("Citas por día", "Del cuestionario a la cita", "Tasa de inasistencia", "Por oficina"):
        assert text in html, text
    assert "Appointments per day" not in html


def test_how_many_appointments_match_with_and_without_statuses(data) -> None:
    _office, people = data
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    params = {"date_from": str(timezone.localdate()), "date_to": str(people[0].slot.local_start().date())}
    assert "4 appointments match." in client.get("/admin/report/", params).content.decode()
    only = client.get("/admin/report/", {**params, "statuses": ["cancelled", "no_show"]}).content.decode()
    assert "2 appointments match." in only


def test_the_funnel_counts_the_office_s_days_at_the_day_boundary(published) -> None:
    """A screener started and finished at 23:30 in Costa Rica (05:30 UTC the next day) belongs to
    that office's day, as the appointments do, not to the UTC day."""
    from eligibility.services import count_start
    from tests.appointments.conftest import OfficeFactory

    costa_rica = OfficeFactory(country="CR", city="San José", time_zone="America/Costa_Rica")
    evening = datetime.datetime(2026, 12, 1, 23, 30, tzinfo=costa_rica.zone)
    count_start(host_country="CR", now=evening)
    make_screening(published, eligible=("refugee",), host_country="CR", created_at=evening)
    # And one just after midnight there (06:10 UTC): the next day's.
    after_midnight = datetime.datetime(2026, 12, 2, 0, 10, tzinfo=costa_rica.zone)
    count_start(host_country="CR", now=after_midnight)
    make_screening(published, eligible=(), host_country="CR", created_at=after_midnight)

    first_day = datetime.date(2026, 12, 1)
    found = figures(offices=[costa_rica], first=first_day, last=first_day)
    assert [n for _step, n in found.funnel][:3] == [1, 1, 1]
    next_day = datetime.date(2026, 12, 2)
    found = figures(offices=[costa_rica], first=next_day, last=next_day)
    assert [n for _step, n in found.funnel][:3] == [1, 1, 0]
