"""The anonymous daily statistics: counted from the appointments of an office's day, replaced (not
added to) when counted again, and kept when the appointments are gone."""

import datetime

import pytest

from appointments.models import Appointment
from reports.models import CountedDay, DailyStat
from reports.services import BACKFILL_DAYS, REFRESH_DAYS, refresh_daily_stats, refresh_recent_daily_stats
from tests.reports.test_exports import office
from tests.reports.test_figures import data

__all__ = ["data", "office"]  # fixtures
pytestmark = pytest.mark.django_db


def test_a_day_is_counted_anonymously_and_again_the_same(data) -> None:
    office, people = data
    day = people[0].slot.local_start().date()
    assert refresh_daily_stats(office=office, days=[day]) == 1
    assert refresh_daily_stats(office=office, days=[day]) == 1  # replaced, not added to
    (stat,) = DailyStat.objects.all()
    assert (stat.pathway, stat.nationality, stat.host_country) == ("refugee", "VE", "CO")
    assert (stat.booked, stat.cancelled, stat.attended, stat.served, stat.no_show, stat.moved) == (4, 1, 1, 1, 1, 1)
    assert stat.lead_seconds == (4 + 2 + 2) * 86400  # the cancelled one never came to its time
    assert stat.lead_hours == {"96": 1, "48": 2}
    assert (stat.waits, stat.wait_seconds, stat.wait_minutes) == (1, 20 * 60, {"20": 1})
    assert CountedDay.objects.filter(office=office, day=day).count() == 1
    # The statistics hold no reference, name or document: they outlive the appointments.
    Appointment.objects.filter(pk__in=[p.pk for p in people]).update(full_name="", document_number="0")
    assert not {f.name for f in DailyStat._meta.fields} & {"reference", "full_name", "document_number", "phone"}
    assert DailyStat.objects.get().booked == 4


def test_the_hourly_run_covers_each_office_s_recent_days(data) -> None:
    office, people = data
    day = people[0].slot.local_start().date()
    after = datetime.datetime.combine(day + datetime.timedelta(days=2), datetime.time(12), tzinfo=office.zone)
    assert refresh_recent_daily_stats(now=after) == 1
    assert DailyStat.objects.get().day == day
    counted = set(CountedDay.objects.filter(office=office).values_list("day", flat=True))
    assert {day, day + datetime.timedelta(days=1)} <= counted


def test_the_hourly_run_counts_older_days_never_counted_a_month_at_a_time(data) -> None:
    office, people = data
    day = people[0].slot.local_start().date()
    later = datetime.datetime.combine(day + datetime.timedelta(days=80), datetime.time(12), tzinfo=office.zone)
    refresh_recent_daily_stats(now=later)
    first_run = CountedDay.objects.filter(office=office).count()
    assert first_run == REFRESH_DAYS + BACKFILL_DAYS
    assert DailyStat.objects.filter(day=day).exists() is (day in CountedDay.objects.values_list("day", flat=True))
    refresh_recent_daily_stats(now=later)
    refresh_recent_daily_stats(now=later)
    counted = set(CountedDay.objects.filter(office=office).values_list("day", flat=True))
    assert day in counted
    assert DailyStat.objects.get(day=day).booked == 4
    assert len(counted) < first_run * 3  # days already counted are not counted again
