"""The lottery of an office: the seed's hash published when the window opens and the seed after
the draw, an order anyone can recompute, one request per document and per phone, offers held,
confirmed by booking or passed down, outcomes told in each person's language, bad inputs refused
with a translated 4xx, staff seeing only their offices' draws, and retention."""

import datetime
import hashlib
import hmac
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone, translation

from allocation import lottery_services
from allocation.models.lottery import Draw, LotteryRequest
from allocation.tasks.lottery import run_lotteries
from appointments.models import Appointment, Hold, Office, Slot
from appointments.selectors import forget_office
from appointments.services.slots import generate_slots
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR, ensure_roles
from eligibility.services import screening_reference
from notifications.models import Notification
from notifications.sending import render_person
from notifications.sms import to_gsm7
from retention.services import run_retention
from tests.appointments.conftest import OfficeFactory, make_screening
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)
EVERY_DAY_ONE_SLOT = [(day, datetime.time(8), datetime.time(8, 30), 1) for day in range(7)]
EVERY_DAY_TWO_SLOTS = [(day, datetime.time(8), datetime.time(9), 1) for day in range(7)]


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_URL = "https://citas.example.org"
    settings.LOTTERY_CONFIRM_HOURS = 24


def lottery_office(hours: list = EVERY_DAY_ONE_SLOT, **extra: Any) -> Office:
    # Requests here are made at once from the details page; with the code sent by SMS first
    # (offices' default), see tests/allocation/test_verified_phone.py.
    extra.setdefault("verify_phone", False)
    office = OfficeFactory(hours=hours, allocation=Office.Allocation.LOTTERY, **extra)
    generate_slots(office=office, now=timezone.now())
    forget_office(office)
    return office


def make_draw(office: Office, *, opened: bool = True, days_ahead: int = 4) -> Draw:
    """A window open from an hour ago to an hour from now, for the places of one day a few days on."""
    now = timezone.now()
    day = office.local_today(now) + datetime.timedelta(days=days_ahead)
    draw = Draw.objects.create(
        office=office, opens_at=now - HOUR, closes_at=now + HOUR, period_start=day, period_end=day
    )
    if opened:
        lottery_services.open_draw(draw_id=draw.pk, now=now)
        draw.refresh_from_db()
    return draw


def values(n: int, **overrides: Any) -> dict[str, Any]:
    """What DetailsForm.as_typed gives, for the n-th person."""
    typed = {
        "full_name": f"Persona {n}",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": f"P{n:07d}",
        "document_country": "VE",
        "date_of_birth": "1990-05-17",
        "phone": f"+5730012{n:05d}",
        "email": "",
        "language": "es",
        "party_size": 1,
        "companions": [],
    }
    typed.update(overrides)
    return typed


def request_for(draw: Draw, published: Any, n: int, **overrides: Any) -> LotteryRequest:
    screening = make_screening(published, created_at=timezone.now() - HOUR)
    return lottery_services.submit_request(draw_id=draw.pk, screening_id=screening.pk, values=values(n, **overrides))


def after_close(draw: Draw) -> datetime.datetime:
    return draw.closes_at + datetime.timedelta(seconds=1)


def offers(kind: str = "won") -> list[Notification]:
    return [n for n in Notification.objects.filter(kind=Notification.Kind.LOTTERY) if n.details["event"] == kind]


def token_of(notification: Notification) -> str:
    return re.search(r"/lottery-offer/([^/]+)/", notification.details["url"]).group(1)


def person_client(published: Any, language: str = "es") -> Client:
    """A browser with an eligible result in its booking session, as the booking pages read it."""
    client = Client()
    screening = make_screening(published, created_at=timezone.now() - HOUR)
    response = client.get(f"/{language}/book/", {"screening": screening_reference(screening)})
    assert response.status_code == 302
    return client


def post_request(client: Client, office: Office, n: int, language: str = "es", **overrides: Any) -> Any:
    typed = values(n, **overrides)
    born = datetime.date.fromisoformat(typed["date_of_birth"])
    form = {
        "full_name": typed["full_name"],
        "identity": "ask",
        "date_of_birth_0": born.day,
        "date_of_birth_1": born.month,
        "date_of_birth_2": born.year,
        "nationality": typed["nationality"],
        "document_type": typed["document_type"],
        "document_number": typed["document_number"],
        "document_country": typed["document_country"],
        "phone": typed["phone"],
        "email": "",
        "language": typed["language"],
        "party_size": 1,
        "consent": "on",
    }
    return client.post(f"/{language}/lottery/{office.slug}/request/", form)


# ---------------------------------------------------------------------------------------------
# The seed, its hash and the order
# ---------------------------------------------------------------------------------------------
def test_the_hash_is_published_when_the_window_opens_and_matches_the_seed_revealed_after(published):
    office = lottery_office()
    draw = make_draw(office, opened=False)
    page = Client().get(f"/en/lottery/{office.slug}/").content.decode()
    assert draw.seed_hash == ""
    assert "SHA-256" not in page
    assert run_lotteries()["opened"] == 1  # the beat opens the window that is due
    assert run_lotteries()["opened"] == 0  # and only once
    draw.refresh_from_db()
    assert draw.status == Draw.Status.OPEN
    assert len(draw.seed) == 64
    before = Client().get(f"/en/lottery/{office.slug}/").content.decode()
    assert draw.seed_hash in before
    assert draw.seed not in before
    for n in range(3):
        request_for(draw, published, n)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    after = Client().get(f"/en/lottery/{office.slug}/").content.decode()
    revealed = re.search(r"Secret number, revealed after the draw:\s*<span[^>]*>([0-9a-f]{64})<", after)
    assert revealed is not None
    assert hashlib.sha256(revealed.group(1).encode("ascii")).hexdigest() == draw.seed_hash
    assert draw.seed_hash in after


def test_the_order_is_recomputed_from_the_published_list_and_the_revealed_seed(published):
    office = lottery_office()
    draw = make_draw(office)
    made = [request_for(draw, published, n) for n in range(12)]
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    listing = Client().get(f"/en/lottery/{office.slug}/draw/{draw.pk}/numbers.txt")
    assert listing.status_code == 200
    text = listing.content.decode()
    seed = re.search(r"^# seed ([0-9a-f]{64})$", text, re.MULTILINE).group(1)
    published_order = [line.split()[1] for line in text.splitlines() if not line.startswith("#")]
    assert sorted(published_order) == sorted(r.number for r in made)
    # As docs/lottery.md says, written again here without the service's code.
    recomputed = sorted(
        published_order, key=lambda number: hmac.new(seed.encode(), number.encode(), hashlib.sha256).hexdigest()
    )
    assert published_order == recomputed
    stored = list(draw.requests.order_by("position").values_list("number", flat=True))
    assert stored == recomputed
    # Not simply the order they came in, nor sorted by number.
    assert recomputed != [r.number for r in made] or recomputed != sorted(r.number for r in made)


def test_the_list_of_numbers_is_not_published_before_the_draw(published):
    office = lottery_office()
    draw = make_draw(office)
    request_for(draw, published, 1)
    assert Client().get(f"/en/lottery/{office.slug}/draw/{draw.pk}/numbers.txt").status_code == 404


def test_the_draw_task_is_idempotent(published):
    office = lottery_office()
    draw = make_draw(office)
    for n in range(3):
        request_for(draw, published, n)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    positions = list(draw.requests.order_by("pk").values_list("position", flat=True))
    messages = Notification.objects.count()
    taken = Slot.objects.filter(office=office).values_list("pk", "taken")
    before = dict(taken)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw) + HOUR)
    assert list(draw.requests.order_by("pk").values_list("position", flat=True)) == positions
    assert Notification.objects.count() == messages
    assert dict(taken) == before


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------
def test_a_request_is_confirmed_on_a_page_and_by_sms(published):
    office = lottery_office()
    make_draw(office)
    client = person_client(published)
    assert client.get(f"/es/lottery/{office.slug}/request/").status_code == 200
    response = post_request(client, office, 1)
    assert response.status_code == 302
    page = client.get(response["Location"])
    made = LotteryRequest.objects.get()
    assert lottery_services.display_number(made.number) in page.content.decode()
    (sms,) = Notification.objects.filter(kind=Notification.Kind.LOTTERY)
    assert sms.details["event"] == "requested"
    assert sms.recipient == "+573001200001"
    assert lottery_services.display_number(made.number) in render_person(sms)


def test_one_request_per_identity_document_even_in_full_width_digits(published):
    office = lottery_office()
    make_draw(office)
    assert post_request(person_client(published), office, 1).status_code == 302
    again = post_request(person_client(published), office, 2, document_number="Ｐ００００００１")
    assert again.status_code == 409
    assert "Ya hay una solicitud" in again.content.decode() or "already a request" in again.content.decode()
    assert LotteryRequest.objects.count() == 1


def test_one_request_per_phone_number(published):
    office = lottery_office()
    make_draw(office)
    assert post_request(person_client(published, "en"), office, 1, "en").status_code == 302
    again = post_request(person_client(published, "en"), office, 2, "en", phone="+573001200001")
    assert again.status_code == 409
    assert "There is already a request with this mobile phone number in this draw" in again.content.decode()
    assert LotteryRequest.objects.count() == 1


def test_the_same_document_may_ask_in_another_draw(published):
    first, second = make_draw(lottery_office()), make_draw(lottery_office())
    request_for(first, published, 1)
    request_for(second, published, 1)
    assert LotteryRequest.objects.count() == 2


@pytest.mark.parametrize("when", ["before", "after"])
def test_no_request_outside_the_window(published, when):
    office = lottery_office()
    draw = make_draw(office)
    client = person_client(published, "en")
    if when == "before":
        Draw.objects.filter(pk=draw.pk).update(opens_at=timezone.now() + HOUR, closes_at=timezone.now() + 2 * HOUR)
    else:
        Draw.objects.filter(pk=draw.pk).update(closes_at=timezone.now() - datetime.timedelta(minutes=1))
    response = post_request(client, office, 1, "en")
    assert response.status_code == 409
    assert "Requests for this draw are not open now" in response.content.decode()
    assert not LotteryRequest.objects.exists()
    with pytest.raises(lottery_services.LotteryError) as refused:
        request_for(draw, published, 2)
    assert refused.value.code == lottery_services.LotteryErrorCode.CLOSED


def test_the_booking_pages_of_a_lottery_office_lead_to_its_lottery_page(published):
    office = lottery_office()
    client = person_client(published)
    day = office.local_today(timezone.now()) + datetime.timedelta(days=4)
    for url in (f"/es/book/office/{office.slug}/", f"/es/book/office/{office.slug}/{day}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/es/lottery/{office.slug}/"
    assert client.post(f"/es/book/office/{office.slug}/{day}/", {"slot": 1}).status_code == 302
    assert not Hold.objects.exists()
    page = client.get(f"/en/lottery/{office.slug}/").content.decode()
    assert "random draw" in page
    assert "free" in page
    assert "Nobody can sell you a place" in page


def test_a_first_come_office_has_no_lottery_page(published):
    office = OfficeFactory()
    assert Client().get(f"/en/lottery/{office.slug}/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Offers, confirming, passing down
# ---------------------------------------------------------------------------------------------
def test_winners_get_a_held_place_and_confirming_books_it(published):
    office = lottery_office(EVERY_DAY_TWO_SLOTS)
    draw = make_draw(office)
    made = [request_for(draw, published, n) for n in range(3)]
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    draw.refresh_from_db()
    assert draw.places == 2
    won = offers("won")
    assert len(won) == 2
    assert len(offers("not_drawn")) == 1
    first = LotteryRequest.objects.get(position=1)
    assert first.status == LotteryRequest.Status.OFFERED
    assert Hold.objects.filter(token=first.hold_token, slot=first.slot).exists()
    period = Slot.objects.filter(office=office, pk__in=[r.slot_id for r in LotteryRequest.objects.all() if r.slot_id])
    assert sum(period.values_list("taken", flat=True)) == 2
    sms = next(n for n in won if n.recipient == first.phone.as_e164)
    client = Client()
    page = client.get(sms.details["url"].removeprefix("https://citas.example.org"))
    assert page.status_code == 200
    response = client.post(sms.details["url"].removeprefix("https://citas.example.org"))
    assert response.status_code == 302
    assert response["Location"] == "/es/manage/appointment/"
    first.refresh_from_db()
    appointment = Appointment.objects.get()
    assert first.status == LotteryRequest.Status.BOOKED
    assert first.appointment == appointment
    assert appointment.slot == first.slot
    assert appointment.document_number == first.document_number
    first.slot.refresh_from_db()
    assert first.slot.taken == 1  # the held place became the appointment
    assert not Hold.objects.filter(token=first.hold_token).exists()
    assert len(made) == 3


def test_a_winner_cannot_move_to_another_free_time(published):
    """A move would take a free place out of the order (or from a period not drawn yet): at a
    lottery office the appointment page offers only cancelling, and the move pages lead back."""
    office = lottery_office(EVERY_DAY_TWO_SLOTS)
    draw = make_draw(office)
    request_for(draw, published, 0)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    [sms] = offers("won")
    client = Client()
    assert client.post(sms.details["url"].removeprefix("https://citas.example.org")).status_code == 302
    appointment = Appointment.objects.get()
    page = client.get("/en/manage/appointment/").content.decode()
    assert "/en/manage/cancel/" in page
    assert "/en/manage/move/" not in page
    assert "Places at this office are given by a draw, so the time cannot be changed." in page
    other = Slot.objects.filter(office=office).exclude(pk=appointment.slot_id).order_by("starts_at").last()
    assert client.get("/en/manage/move/")["Location"] == "/en/manage/appointment/"
    move_slot = f"/en/manage/move/{other.local_start().date()}/"
    assert client.get(move_slot)["Location"] == "/en/manage/appointment/"
    assert client.post(move_slot, {"slot": other.pk})["Location"] == "/en/manage/appointment/"
    appointment.refresh_from_db()
    assert appointment.slot_id != other.pk
    assert not Hold.objects.filter(slot=other).exists()


def test_an_offer_not_confirmed_in_time_passes_down_the_order(published):
    office = lottery_office()
    draw = make_draw(office)
    for n in range(3):
        request_for(draw, published, n, language=["es", "en", "es"][n])
    drawn_at = after_close(draw)
    lottery_services.run_draw(draw_id=draw.pk, now=drawn_at)
    first, second, third = LotteryRequest.objects.order_by("position")
    assert (first.status, second.status) == (LotteryRequest.Status.OFFERED, LotteryRequest.Status.REQUESTED)
    slot = first.slot
    expired = drawn_at + datetime.timedelta(hours=24, minutes=1)
    assert lottery_services.expire_offers(now=drawn_at + datetime.timedelta(hours=23)) == 0
    assert lottery_services.expire_offers(now=expired) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert first.status == LotteryRequest.Status.PASSED
    assert second.status == LotteryRequest.Status.OFFERED
    assert second.slot == slot
    assert third.status == LotteryRequest.Status.REQUESTED
    slot.refresh_from_db()
    assert slot.taken == 1 == slot.capacity  # one place, never two
    passed = offers("passed_down")
    assert [n.recipient for n in passed] == [second.phone.as_e164]
    assert [n.recipient for n in offers("expired")] == [first.phone.as_e164]
    # The first winner's link no longer books anything.
    token = token_of(next(n for n in offers("won") if n.recipient == first.phone.as_e164))
    with pytest.raises(lottery_services.LotteryError):
        lottery_services.confirm_offer(token=token, now=expired)
    assert not Appointment.objects.exists()


def test_a_wrong_or_spent_link_gets_a_translated_4xx(published):
    office = lottery_office()
    draw = make_draw(office)
    request_for(draw, published, 1)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    wrong = Client().get("/es/lottery-offer/not-the-token-at-all-xxxxxxxxx/")
    assert wrong.status_code == 404
    assert "Este enlace no funciona" in wrong.content.decode() or "This link does not work" in wrong.content.decode()
    english = Client().post("/en/lottery-offer/not-the-token-at-all-xxxxxxxxx/")
    assert english.status_code == 404
    assert "This link does not work" in english.content.decode()
    url = offers("won")[0].details["url"].removeprefix("https://citas.example.org").replace("/es/", "/en/")
    LotteryRequest.objects.update(offer_expires_at=timezone.now() - HOUR)
    over = Client().post(url)
    assert over.status_code == 410
    assert "This offer is over" in over.content.decode()
    assert not Appointment.objects.exists()


def test_outcomes_are_told_in_each_persons_language(published):
    office = lottery_office()
    draw = make_draw(office)
    for n, language in enumerate(["es", "en", "ht"]):
        request_for(draw, published, n, language=language)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    outcomes = {
        n.recipient: n
        for n in Notification.objects.filter(kind=Notification.Kind.LOTTERY).exclude(details__event="requested")
    }
    assert len(outcomes) == 3
    for made in LotteryRequest.objects.all():
        told = outcomes[made.phone.as_e164]
        assert told.language == made.language
        assert told.details["event"] == ("won" if made.position == 1 else "not_drawn")
    winner = LotteryRequest.objects.get(position=1)
    sms = outcomes[winner.phone.as_e164]
    weekday = winner.slot.local_start().date()
    with translation.override(winner.language):
        from django.utils.formats import date_format

        day_name = to_gsm7(date_format(weekday, "D"))  # as every SMS writes a day, in GSM-7
    assert f"{day_name} " in render_person(sms)
    if winner.language != "en":
        with translation.override("en"):
            assert f"{date_format(weekday, 'D')} " not in render_person(sms)


# ---------------------------------------------------------------------------------------------
# Staff, retention
# ---------------------------------------------------------------------------------------------
def staff_in(role: str, name: str) -> tuple[Client, Any]:
    ensure_roles()
    user = get_user_model().objects.create_user(username=name, password="x" * 16, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client(headers={"accept-language": "en"})
    sign_in(client, user)
    return client, user


def test_staff_see_only_their_offices_draws_and_supervisors_see_every_draw(published):
    north, south = lottery_office(name="North office"), lottery_office(name="South office")
    in_north, in_south = make_draw(north), make_draw(south)
    asked_north, asked_south = request_for(in_north, published, 1), request_for(in_south, published, 2)
    lottery_services.run_draw(draw_id=in_north.pk, now=after_close(in_north))
    in_north.refresh_from_db()
    staff, user = staff_in(ROLE_OFFICE_STAFF, "counter")
    north.staff.add(user)
    listing = staff.get("/admin/allocation/draw/").content.decode()
    assert "North office" in listing
    assert "South office" not in listing
    page = staff.get(f"/admin/allocation/draw/{in_north.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert in_north.seed_hash in text
    assert in_north.seed in text
    assert staff.get(f"/admin/allocation/draw/{in_south.pk}/change/").status_code in (302, 404)
    requests = staff.get(f"/admin/allocation/lotteryrequest/?draw__id__exact={in_north.pk}")
    assert requests.status_code == 200
    assert asked_north.number in requests.content.decode()
    everything = staff.get("/admin/allocation/lotteryrequest/").content.decode()
    assert asked_north.number in everything
    assert asked_south.number not in everything
    assert staff.get(f"/admin/allocation/lotteryrequest/{asked_south.pk}/change/").status_code in (302, 404)
    # Nor can they create one for another office.
    created = staff.post(
        "/admin/allocation/draw/add/",
        {
            "office": south.pk,
            "opens_at_0": "2030-01-01",
            "opens_at_1": "08:00",
            "closes_at_0": "2030-01-02",
            "closes_at_1": "08:00",
            "period_start": "2030-01-05",
            "period_end": "2030-01-06",
            "requests-TOTAL_FORMS": 0,
            "requests-INITIAL_FORMS": 0,
        },
    )
    assert created.status_code == 200
    assert not Draw.objects.filter(opens_at__year=2030).exists()
    supervisor, _ = staff_in(ROLE_SUPERVISOR, "boss")
    listing = supervisor.get("/admin/allocation/draw/").content.decode()
    assert "North office" in listing
    assert "South office" in listing


def test_the_seed_stays_hidden_in_the_admin_until_the_draw(published):
    office = lottery_office(name="North office")
    draw = make_draw(office)
    staff, user = staff_in(ROLE_OFFICE_STAFF, "counter")
    office.staff.add(user)
    text = staff.get(f"/admin/allocation/draw/{draw.pk}/change/").content.decode()
    assert draw.seed_hash in text
    assert draw.seed not in text


def test_retention_erases_the_personal_data_of_requests(published, settings):
    office = lottery_office()
    draw = make_draw(office)
    made = request_for(draw, published, 1)
    later = timezone.now() + datetime.timedelta(days=settings.RETENTION_DAYS + 10)
    run_retention(now=timezone.now())
    made.refresh_from_db()
    assert made.erased_at is None
    assert made.full_name == "Persona 1"
    done = run_retention(now=later)
    assert done["lottery_requests"] == 1
    made.refresh_from_db()
    assert made.erased_at is not None
    assert (made.full_name, made.document_number, str(made.phone), made.details) == ("", "", "", {})
    assert made.number
    assert made.position is None


def test_a_winner_confirms_even_when_the_draws_wait_made_their_answers_old(published, settings):
    """The answers were recent enough when the request was made; the wait for the draw is not the
    person's doing, so confirming does not ask for the questions again."""
    office = lottery_office()
    draw = make_draw(office)
    made = request_for(draw, published, 1)
    made.screening.__class__.objects.filter(pk=made.screening_id).update(
        created_at=made.created_at - datetime.timedelta(days=settings.SCREENING_VALID_DAYS, hours=-12)
    )
    drawn_at = after_close(draw)
    lottery_services.run_draw(draw_id=draw.pk, now=drawn_at)
    appointment = lottery_services.confirm_offer(token=token_of(offers("won")[0]), now=drawn_at + 23 * HOUR)
    assert appointment.status == Appointment.Status.BOOKED


@pytest.mark.django_db(transaction=True)
def test_two_requests_for_one_document_at_the_same_moment_get_one_row_and_a_clear_answer(published):
    import threading

    from django.db import connections

    office = lottery_office()
    draw = make_draw(office)
    screenings = [make_screening(published, created_at=timezone.now() - HOUR).pk for _ in range(4)]
    start = threading.Barrier(4)
    answers: list[str] = []

    def ask(n: int) -> None:
        try:
            start.wait(10)
            lottery_services.submit_request(
                draw_id=draw.pk, screening_id=screenings[n], values=values(n, document_number="P7777777")
            )
            answers.append("made")
        except lottery_services.LotteryError as exc:
            answers.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["duplicate_document"] * 3 + ["made"]
    assert LotteryRequest.objects.count() == 1


def test_the_check_in_the_docs_confirms_a_real_draw_and_refuses_a_changed_one(published, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "lottery.md").read_text(encoding="utf-8")
    script = tmp_path / "check_draw.py"
    script.write_text(re.search(r"```python\n(.*?)```", docs, re.DOTALL).group(1), encoding="utf-8")
    office = lottery_office()
    draw = make_draw(office)
    hash_seen_before = draw.seed_hash
    for n in range(5):
        request_for(draw, published, n)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    text = Client().get(f"/en/lottery/{office.slug}/draw/{draw.pk}/numbers.txt").content.decode()
    listing = tmp_path / "draw.txt"
    listing.write_text(text, encoding="utf-8")
    run = [sys.executable, str(script), str(listing)]
    checked = subprocess.run([*run, hash_seen_before], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("OK: 5 requests")
    assert subprocess.run([*run, "0" * 64], capture_output=True, check=False).returncode != 0
    lines = text.splitlines()
    body = [line for line in lines if not line.startswith("#")]
    swapped = [line for line in lines if line.startswith("#")] + [body[1], body[0], *body[2:]]
    listing.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    assert subprocess.run([*run, hash_seen_before], capture_output=True, check=False).returncode != 0


def test_a_place_freed_by_a_cancellation_goes_down_the_order(published):
    from appointments.services.changes import cancel_appointment

    office = lottery_office()
    draw = make_draw(office)
    for n in range(2):
        request_for(draw, published, n)
    drawn_at = after_close(draw)
    lottery_services.run_draw(draw_id=draw.pk, now=drawn_at)
    first, second = LotteryRequest.objects.order_by("position")
    appointment = lottery_services.confirm_offer(token=token_of(offers("won")[0]), now=drawn_at + HOUR)
    assert lottery_services.offer_freed_places(now=drawn_at + 2 * HOUR) == 0
    cancel_appointment(appointment_id=appointment.pk, now=drawn_at + 3 * HOUR)
    assert lottery_services.offer_freed_places(now=drawn_at + 4 * HOUR) == 1
    second.refresh_from_db()
    assert second.status == LotteryRequest.Status.OFFERED
    assert second.slot_id == first.slot_id
    assert [n.recipient for n in offers("passed_down")] == [second.phone.as_e164]


def test_a_used_offer_link_opens_the_appointment_to_nobody_else(published):
    """Once the offer's link has booked the place, a POST with it opens nothing for another browser
    (the appointment's page is reached from its own confirmation SMS); the browser that confirmed
    is sent to its page again."""
    office = lottery_office(EVERY_DAY_TWO_SLOTS)
    draw = make_draw(office)
    for n in range(2):
        request_for(draw, published, n)
    lottery_services.run_draw(draw_id=draw.pk, now=after_close(draw))
    first = LotteryRequest.objects.get(position=1)
    sms = next(n for n in offers("won") if n.recipient == first.phone.as_e164)
    link = sms.details["url"].removeprefix("https://citas.example.org")
    winner = Client()
    assert winner.post(link)["Location"] == "/es/manage/appointment/"
    again = winner.post(link)  # pressed twice
    assert (again.status_code, again["Location"]) == (302, "/es/manage/appointment/")
    stranger = Client()
    for data in ({}, {"action": "decline", "confirm": "yes"}):
        response = stranger.post(link, data)
        assert response.status_code == 410, data
        assert first.full_name not in response.content.decode()
    page = stranger.get("/es/manage/appointment/", follow=True)
    assert first.full_name not in page.content.decode()
    assert Appointment.objects.get().status == Appointment.Status.BOOKED
