"""Migration 0003 publishes the current program rules as a new version over the 2023 seed, once."""

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from eligibility import seed
from eligibility.models import Question, ScreenerVersion

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("eligibility", "0002_seed_2023_program")]
AFTER = [("eligibility", "0003_screener_version_2")]


@pytest.fixture
def back_to_latest():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_database_on_the_2023_seed_gets_version_2_once(published, back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    # The 2023 seed asked one I-130 question ("filed and approved?").
    old.get_model("eligibility", "Question").objects.filter(version_id=published.pk, key="i130_filed").delete()

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    versions = new.get_model("eligibility", "ScreenerVersion").objects.order_by("number")
    assert [(v.number, v.status, v.based_on_id) for v in versions] == [
        (published.number, "retired", None),
        (published.number + 1, "published", published.pk),
    ]
    keys = list(
        new.get_model("eligibility", "Question").objects.filter(version=versions[1]).values_list("key", flat=True)
    )
    assert keys.index("i130_filed") + 1 == keys.index("i130_approved")
    seed.upgrade(new)  # run again: nothing to do
    assert versions.count() == 2


def test_a_new_database_starts_on_the_current_rules(published):
    seed.upgrade(django_apps)
    assert ScreenerVersion.objects.count() == 1
    assert Question.objects.filter(version=published, key="i130_filed").exists()


def test_screener_starts_counted_by_utc_day_keep_their_day_as_hours(back_to_latest):
    """Migration 0007: a day's count becomes that UTC day's noon, which falls in the same day in
    the offices' time zones; going back adds the hours of each UTC day up again."""
    import datetime

    before, after = [("eligibility", "0006_retention")], [("eligibility", "0007_screener_start_hour")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old.get_model("eligibility", "ScreenerStart").objects.create(
        day=datetime.date(2026, 11, 30), host_country="CR", started=7
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    start = new.get_model("eligibility", "ScreenerStart").objects.get()
    assert (start.hour, start.host_country, start.started) == (
        datetime.datetime(2026, 11, 30, 12, tzinfo=datetime.UTC),
        "CR",
        7,
    )
    new.get_model("eligibility", "ScreenerStart").objects.create(
        hour=datetime.datetime(2026, 11, 30, 23, tzinfo=datetime.UTC), host_country="CR", started=2
    )

    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    rows = old.get_model("eligibility", "ScreenerStart").objects.values_list("day", "host_country", "started")
    assert list(rows) == [(datetime.date(2026, 11, 30), "CR", 9)]
