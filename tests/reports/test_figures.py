"""The report's figures on a small data set computed by hand, in a bounded number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, AppointmentEvent
from core.services import ROLE_SUPERVISOR
from desk.models import Ticket
from reports.exports import rows
from reports.figures import chart, figures
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


def test_figures_on_a_known_data_set(data) -> None:
    office, people = data
    day = people[0].slot.local_start().date()
    found = figures(appointments=Appointment.objects.all(), offices=[office], first=timezone.localdate(), last=day)
    assert found.booked == 4
    assert found.counts == {"served": 1, "no_show": 1, "cancelled": 1, "booked": 1}
    assert found.moved == 1
    assert found.no_show_rate == 0.5  # 1 no-show of the 2 whose time came
    assert found.cancellation_rate == 0.25
    start = datetime.datetime.combine(timezone.localdate(), datetime.time.min, tzinfo=office.zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=office.zone)
    offered = sum(slot.capacity for slot in office.slots.filter(starts_at__gte=start, starts_at__lt=end))
    assert found.places_offered == offered > 0
    assert found.capacity_use == 3 / offered  # cancelled places are free again
    # Lead times 4, 2, 2, 2 days: median 2, 90th percentile 2 + 0.7 × (4 − 2) = 3.4 days.
    assert found.lead.median == 2 * 86400
    assert found.lead.p90 == pytest.approx(3.4 * 86400)
    assert (found.wait.median, found.wait.p90) == (20 * 60, 20 * 60)
    assert found.days == [(day, 4, 1)]
    (row,) = found.offices
    assert (row.name, row.booked, row.no_show_rate) == ("Oficina Bogotá", 4, 0.5)
    # Each of the four booked with its own eligible screening, and the two more: 6, 5 eligible.
    assert found.screenings == 6
    assert found.eligible_any == 5
    assert dict(found.eligible) == {
        "refugee": 5,
        "family-reunification": 0,
        "temporary-work": 0,
        "labour-other-countries": 0,
    }


def test_the_chart_scales_to_the_tallest_day() -> None:
    drawn = chart([(datetime.date(2026, 12, 1), 10, 5), (datetime.date(2026, 12, 2), 5, 0)])
    first, second = drawn["bars"]
    assert (first.booked_height, first.booked_y) == (190, 10)
    assert (second.booked_height, second.attended_height) == (95, 0)
    assert chart([])["bars"] == []


def test_the_report_page_in_a_bounded_number_of_queries(data, published) -> None:
    office, people = data
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    params = {"date_from": str(timezone.localdate()), "date_to": str(people[0].slot.local_start().date())}

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
