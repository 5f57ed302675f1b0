"""Two draws of one office never overlap: neither their request windows (two draws taking requests
at once would split the people asking) nor their periods (one day's places given by two draws).
Refused in words in the admin and by the service, and by an exclusion constraint in PostgreSQL
that also settles two creations at the same moment."""

import datetime
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import translation

from allocation import lottery_services
from allocation.models.lottery import Draw
from appointments.models import Office
from core.services import ROLE_OFFICE_STAFF, ensure_roles
from tests.appointments.conftest import OfficeFactory
from tests.conftest import sign_in

UTC = datetime.UTC
OVERLAP_WINDOW = "requests of another draw of this office"
OVERLAP_PERIOD = "days of another draw of this office"


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The service's messages are read in English (the pages choose their own language)."""
    with translation.override("en"):
        yield


def at(day: int, hour: int = 8) -> datetime.datetime:
    return datetime.datetime(2030, 1, day, hour, tzinfo=UTC)


def date(day: int) -> datetime.date:
    return datetime.date(2030, 1, day)


def a_draw(office: Office, opens: int, closes: int, first: int, last: int) -> Draw:
    """A draw (not saved) with its window from day `opens` to day `closes` at 08:00 UTC and its
    places from day `first` to day `last` of January 2030."""
    return Draw(
        office=office, opens_at=at(opens), closes_at=at(closes), period_start=date(first), period_end=date(last)
    )


def lottery_office(**extra: Any) -> Office:
    return OfficeFactory(hours=[], allocation=Office.Allocation.LOTTERY, time_zone="UTC", **extra)


# ---------------------------------------------------------------------------------------------
# The service and the model
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("window", "period", "message"),
    [
        ((2, 4), (20, 21), OVERLAP_WINDOW),  # requests taken at the same time
        ((1, 3), (20, 21), OVERLAP_WINDOW),  # inside the other's window
        ((5, 7), (11, 16), OVERLAP_PERIOD),  # the same days given twice
        ((5, 7), (15, 15), OVERLAP_PERIOD),  # the other's last day
    ],
)
def test_the_service_refuses_a_draw_that_overlaps_another_of_its_office(window, period, message):
    office = lottery_office()
    lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    with pytest.raises(ValidationError) as refused:
        lottery_services.save_draw(draw=a_draw(office, *window, *period))
    assert message in " ".join(refused.value.messages)
    assert Draw.objects.count() == 1


@pytest.mark.django_db
def test_draws_that_follow_each_other_or_belong_to_other_offices_are_fine():
    office, other = lottery_office(), lottery_office()
    lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    # Requests open when the other's close; the places start the day after its last.
    lottery_services.save_draw(draw=a_draw(office, 3, 5, 16, 20))
    lottery_services.save_draw(draw=a_draw(other, 1, 3, 10, 15))
    assert Draw.objects.count() == 3


@pytest.mark.django_db
def test_changing_a_draw_does_not_find_it_overlapping_itself():
    office = lottery_office()
    draw = lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    draw.period_end = date(16)
    lottery_services.save_draw(draw=draw)
    draw.refresh_from_db()
    assert draw.period_end == date(16)


@pytest.mark.django_db
@pytest.mark.parametrize(("window", "period"), [((2, 4), (20, 21)), ((5, 7), (15, 16))])
def test_the_database_refuses_an_overlap_that_skips_the_checks(window, period):
    office = lottery_office()
    Draw.objects.create(office=office, opens_at=at(1), closes_at=at(3), period_start=date(10), period_end=date(15))
    with pytest.raises(IntegrityError), transaction.atomic():
        Draw.objects.create(
            office=office,
            opens_at=at(window[0]),
            closes_at=at(window[1]),
            period_start=date(period[0]),
            period_end=date(period[1]),
        )


def release_once_someone_waits(release: threading.Event) -> None:
    """Let the first creation commit once the second is waiting on a lock (read from PostgreSQL,
    no timing)."""
    try:
        with connection.cursor() as cursor:
            for _poll in range(100_000):
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
    finally:
        release.set()
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_draws_created_at_the_same_moment_give_one_draw_and_a_clear_error():
    """The first creation has written its row but not committed when the second checks: the
    second's checks cannot see the first, so only the database (and the office's lock) decide."""
    office = lottery_office()
    written, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
                written.set()
                release.wait(timeout=30)
            outcomes["first"] = "made"
        except Exception as exc:  # noqa: BLE001 - the test inspects what each got
            outcomes["first"] = exc
        finally:
            written.set()
            connection.close()

    def second() -> None:
        try:
            written.wait(timeout=30)
            lottery_services.save_draw(draw=a_draw(office, 2, 4, 12, 16))
            outcomes["second"] = "made"
        except Exception as exc:  # noqa: BLE001
            outcomes["second"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    watcher = threading.Thread(target=release_once_someone_waits, args=(release,))
    for thread in threads:
        thread.start()
    written.wait(timeout=30)
    watcher.start()
    for thread in [*threads, watcher]:
        thread.join()
    assert outcomes["first"] == "made"
    assert isinstance(outcomes["second"], ValidationError), outcomes["second"]
    assert OVERLAP_WINDOW in " ".join(outcomes["second"].messages)
    assert Draw.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# The admin, as office staff
# ---------------------------------------------------------------------------------------------
def staff_of(office: Office) -> Client:
    ensure_roles()
    user = get_user_model().objects.create_user(username="counter", password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
    office.staff.add(user)
    client = Client(headers={"accept-language": "en"})
    sign_in(client, user)
    return client


def form(office: Office, opens: int, closes: int, first: int, last: int) -> dict[str, Any]:
    return {
        "office": office.pk,
        "opens_at_0": f"2030-01-{opens:02d}",
        "opens_at_1": "08:00",
        "closes_at_0": f"2030-01-{closes:02d}",
        "closes_at_1": "08:00",
        "period_start": f"2030-01-{first:02d}",
        "period_end": f"2030-01-{last:02d}",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("window", "period", "message"),
    [((2, 4), (20, 21), OVERLAP_WINDOW), ((5, 7), (12, 13), OVERLAP_PERIOD)],
)
def test_staff_see_a_form_error_for_an_overlapping_draw(window, period, message):
    office = lottery_office(name="North office")
    staff = staff_of(office)
    assert staff.post("/admin/allocation/draw/add/", form(office, 1, 3, 10, 15)).status_code == 302
    response = staff.post("/admin/allocation/draw/add/", form(office, *window, *period))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Please correct the error below." in text
    assert message in text
    assert Draw.objects.count() == 1
    # Moved clear of the first, it is saved.
    assert staff.post("/admin/allocation/draw/add/", form(office, 3, 5, 16, 20)).status_code == 302
    assert Draw.objects.count() == 2


@pytest.mark.django_db
def test_staff_change_a_scheduled_draw_without_an_error_about_itself():
    office = lottery_office(name="North office")
    staff = staff_of(office)
    draw = lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    response = staff.post(f"/admin/allocation/draw/{draw.pk}/change/", form(office, 1, 3, 10, 16))
    assert response.status_code == 302
    draw.refresh_from_db()
    assert draw.period_end == date(16)


@pytest.mark.django_db(transaction=True)
def test_staff_saving_a_draw_while_another_is_being_saved_get_a_form_error_not_a_500():
    """Another draw of the office is written but not committed when the staff's form is checked:
    the form waits for it (the office's lock) and then shows the overlap as a form error."""
    office = lottery_office(name="North office")
    staff = staff_of(office)
    written, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def other() -> None:
        try:
            with transaction.atomic():
                lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
                written.set()
                release.wait(timeout=30)
        finally:
            written.set()
            connection.close()

    def post() -> None:
        try:
            outcomes["response"] = staff.post("/admin/allocation/draw/add/", form(office, 2, 4, 20, 21))
        except Exception as exc:  # noqa: BLE001 - the test inspects what it got
            outcomes["response"] = exc
        finally:
            connection.close()

    holder = threading.Thread(target=other)
    holder.start()
    written.wait(timeout=30)
    poster = threading.Thread(target=post)
    watcher = threading.Thread(target=release_once_someone_waits, args=(release,))
    poster.start()
    watcher.start()
    for thread in (holder, poster, watcher):
        thread.join()
    response = outcomes["response"]
    assert not isinstance(response, Exception), response
    assert response.status_code == 200
    assert OVERLAP_WINDOW in response.content.decode()
    assert Draw.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# A draw opened while it was being edited keeps its published hash and terms
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_draw_saved_from_an_object_loaded_before_it_opened_keeps_its_hash_and_terms():
    """A form loaded while the draw was scheduled, saved after the window opened (a second press
    of Save, the per-minute task opening it meanwhile): the service writes nothing, so the hash
    published at the opening and the terms stay."""
    office = lottery_office()
    draw = lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    stale = Draw.objects.get(pk=draw.pk)
    lottery_services.open_draw(draw_id=draw.pk, now=at(1, 9))
    opened = Draw.objects.get(pk=draw.pk)
    assert opened.status == Draw.Status.OPEN
    assert len(opened.seed_hash) == 64
    stale.period_end = date(16)
    saved = lottery_services.save_draw(draw=stale, now=at(1, 10))
    after = Draw.objects.get(pk=draw.pk)
    assert (after.status, after.seed_hash, after.seed, after.period_end) == (
        Draw.Status.OPEN,
        opened.seed_hash,
        opened.seed,
        date(15),
    )
    assert (saved.status, saved.seed_hash) == (Draw.Status.OPEN, opened.seed_hash)


@pytest.mark.django_db
def test_the_admin_form_of_a_draw_that_opened_meanwhile_says_so():
    from allocation.admin.lottery import DrawForm

    office = lottery_office()
    draw = lottery_services.save_draw(draw=a_draw(office, 1, 3, 10, 15))
    loaded = Draw.objects.get(pk=draw.pk)
    data = {
        "office": office.pk,
        "opens_at": "2030-01-01 08:00",
        "closes_at": "2030-01-03 08:00",
        "period_start": "2030-01-10",
        "period_end": "2030-01-16",
    }
    assert DrawForm(data, instance=Draw.objects.get(pk=draw.pk)).is_valid()  # still scheduled: fine
    lottery_services.open_draw(draw_id=draw.pk, now=at(1, 9))
    form = DrawForm(data, instance=loaded)
    assert not form.is_valid()
    assert "opened while you were editing it" in str(form.non_field_errors())
