"""Pages kept by each process and copied with the request's own CSRF token (core/pages.py): the
question pages and the times page, which everyone reads at a release. A kept page must be the page
rendering would make, never show one person what another typed, and never hide what changed."""

import datetime
import re
import zlib
from collections import Counter
from unittest import mock

import pytest
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.cache import cache
from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CSRF_SECRET_LENGTH,
    _get_new_csrf_string,
    _unmask_cipher_token,
)
from django.test import Client, RequestFactory
from django.test.signals import template_rendered
from django.utils import timezone, translation

from appointments.models import Office, Slot
from core import pages
from eligibility.models import ScreenerVersion
from eligibility.services import screening_reference
from tests.appointments.conftest import make_screening
from tests.appointments.test_pages import bookable, live_office, url  # noqa: F401 - live_office: a fixture
from tests.page_weight import ANSWERS

pytestmark = pytest.mark.django_db

Q = "/en/questions/"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _empty() -> None:
    pages.forget_pages()


def rendered(client: Client, path: str) -> tuple[str, list[str]]:
    """The page's HTML and the templates rendered to make it."""
    names: list[str] = []

    def record(sender: object, template: object, **kwargs: object) -> None:
        names.append(getattr(template, "name", ""))

    template_rendered.connect(record)
    try:
        response = client.get(path)
    finally:
        template_rendered.disconnect(record)
    assert response.status_code == 200, path
    return response.content.decode(), names


def without_token(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


def test_a_question_page_is_rendered_once_and_each_copy_has_its_own_token(published: ScreenerVersion) -> None:
    first, second = Client(), Client()
    html, names = rendered(first, f"{Q}current_country/")
    assert "eligibility/question.html" in names
    again, names = rendered(second, f"{Q}current_country/")
    assert names == [], "the kept page, no template rendered"
    assert without_token(again) == without_token(html)
    token = TOKEN.search(again)[1]
    assert token != TOKEN.search(html)[1]
    assert pages.TOKEN_MARK not in again
    # The token in the copy is this visitor's: their answer passes the CSRF check.
    strict = Client(enforce_csrf_checks=True)
    html, _names = rendered(strict, f"{Q}current_country/")
    response = strict.post(f"{Q}current_country/", {"answer": "CR", "csrfmiddlewaretoken": TOKEN.search(html)[1]})
    assert response.status_code == 302


def test_a_visitor_with_a_csrf_cookie_gets_a_fresh_token_of_that_cookie_and_it_passes(
    published: ScreenerVersion,
) -> None:
    """A kept page's token for a browser that has the cookie already (pages.csrf_token, not
    Django's get_token): a new mask each time, the cookie's secret under it, the cookie sent again
    (its expiry renewed), and the answer accepted by the CSRF check."""
    strict = Client(enforce_csrf_checks=True)
    rendered(strict, f"{Q}current_country/")
    secret = strict.cookies[settings.CSRF_COOKIE_NAME].value
    tokens = set()
    for _ in range(3):
        response = strict.get(f"{Q}current_country/")
        assert response.status_code == 200
        assert response.cookies[settings.CSRF_COOKIE_NAME].value == secret
        tokens.add(TOKEN.search(response.content.decode())[1])
    assert len(tokens) == 3
    assert {_unmask_cipher_token(token) for token in tokens} == {secret}
    response = strict.post(f"{Q}current_country/", {"answer": "CR", "csrfmiddlewaretoken": tokens.pop()})
    assert response.status_code == 302
    # A token that is not this cookie's is refused, as ever.
    other = Client(enforce_csrf_checks=True)
    rendered(other, f"{Q}current_country/")
    response = other.post(f"{Q}current_country/", {"answer": "CR", "csrfmiddlewaretoken": tokens.pop()})
    assert response.status_code == 403


def test_the_masks_draw_every_allowed_character_evenly() -> None:
    """The mask is the token's defence against BREACH: each of its characters one of the 62 with
    equal chance (a modulo without dropping the bytes above 247 would favour the first eight)."""
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = _get_new_csrf_string()
    masks, secrets = Counter(), Counter()
    for _ in range(2000):
        masks.update(pages.csrf_token(request)[:CSRF_SECRET_LENGTH])
        # A new visitor's secret (the cookie it is sent) is drawn the same way.
        new_visitor = RequestFactory().get("/")
        token = pages.csrf_token(new_visitor)
        secret = new_visitor.META["CSRF_COOKIE"]
        assert new_visitor.META["CSRF_COOKIE_NEEDS_UPDATE"]
        assert _unmask_cipher_token(token) == secret
        secrets.update(secret)
    expected = 2000 * CSRF_SECRET_LENGTH / len(CSRF_ALLOWED_CHARS)  # about 1,032
    for counts in (masks, secrets):
        assert set(counts) == set(CSRF_ALLOWED_CHARS)
        assert all(abs(count - expected) < 0.2 * expected for count in counts.values()), counts


def test_the_option_chosen_is_shown_to_whoever_chose_it(published: ScreenerVersion) -> None:
    costa_rica, guatemala = Client(), Client()
    for client, country in ((costa_rica, "CR"), (guatemala, "GT")):
        assert client.post(f"{Q}current_country/", {"answer": country}).status_code == 302
    assert '<option value="CR" selected>' in rendered(costa_rica, f"{Q}current_country/")[0]
    html = rendered(guatemala, f"{Q}current_country/")[0]
    assert '<option value="GT" selected>' in html
    assert '<option value="CR" selected>' not in html


def test_a_date_typed_is_never_kept_and_each_person_sees_their_own(published: ScreenerVersion) -> None:
    """The date of birth page is kept once, with marks in its boxes: each person's own date is
    written in for their request, and no kept page holds a date anyone typed."""
    people = {"1991": ("17", "5"), "1984": ("4", "11")}
    clients = {}
    for year, (day, month) in people.items():
        client = clients[year] = Client()
        steps = [
            ("current_country", {"answer": "GT"}),
            ("nationality", {"answer": "GT"}),
            ("date_of_birth", {"answer_0": day, "answer_1": month, "answer_2": year}),
        ]
        for key, data in steps:
            assert client.post(f"{Q}{key}/", data).status_code == 302
    first, names = rendered(clients["1991"], f"{Q}date_of_birth/")
    assert "eligibility/question.html" in names
    boxes = re.compile(r'name="answer_(\d)"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="answer_(\d)"')

    def dates(html: str) -> list[str]:
        return [value or other for _box, value, other, _other_box in boxes.findall(html)]

    assert dates(first) == ["17", "5", "1991"]
    second, names = rendered(clients["1984"], f"{Q}date_of_birth/")
    assert names == [], "the kept page, with this person's date written in"
    assert dates(second) == ["4", "11", "1984"]
    assert "1991" not in second
    assert "answermark" not in second
    # The same page as rendering would make, but for the date.
    same = second.replace('value="4"', 'value="17"').replace('value="11"', 'value="5"')
    assert without_token(same.replace('value="1984"', 'value="1991"')) == without_token(first)
    # Neither in the kept HTML nor in its parts compressed for gzip.
    kept = " ".join(page.html for page in pages._pages.values())
    parts = b" ".join(
        raw + zlib.decompressobj(wbits=-zlib.MAX_WBITS).decompress(compressed)
        for page in pages._pages.values()
        for cut in page._cuts.values()
        for raw, compressed in cut
        if compressed is not None
    )
    assert b"</html>" in parts
    for date in ("1991", "1984"):
        assert date not in kept
        assert date.encode() not in parts


def test_an_error_a_query_string_and_a_message_are_rendered_for_their_request(published: ScreenerVersion) -> None:
    client = Client()
    rendered(client, f"{Q}current_country/")
    response = client.post(f"{Q}current_country/", {"answer": "XX"})
    assert response.status_code == 200
    assert "Select a country from the list." in response.content.decode()
    kept = dict(pages._pages)
    assert client.post(f"{Q}current_country/", {"answer": "CR"}).status_code == 302
    _html, names = rendered(client, f"{Q}current_country/?change=1")
    assert "eligibility/question.html" in names
    assert pages._pages.keys() == kept.keys(), "nothing kept for a query string or a POST"


def test_a_page_with_a_message_shows_it_and_is_not_kept(rf) -> None:
    request = rf.get("/en/")
    SessionMiddleware(lambda request: None).process_request(request)
    MessageMiddleware(lambda request: None).process_request(request)
    messages.error(request, "Something to say.")
    with translation.override("en"):
        html = pages.render_shared(request, "eligibility/start.html", {}, key=()).content.decode()
    assert "Something to say." in html
    assert not pages._pages


def test_a_changed_setting_forgets_the_pages(published: ScreenerVersion, settings) -> None:
    rendered(Client(), f"{Q}current_country/")
    assert pages._pages
    settings.SERVICE_OPERATOR = "Programa Movilidad Segura"
    assert not pages._pages
    assert "Programa Movilidad Segura" in rendered(Client(), f"{Q}current_country/")[0]


def test_at_most_pages_kept_are_kept(published: ScreenerVersion, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGES_KEPT", 2)
    for path in (f"{Q}current_country/", "/es/questions/current_country/", "/ht/questions/current_country/"):
        rendered(Client(), path)
    assert len(pages._pages) == 2
    assert [language for _template, language, _path, _key in pages._pages] == ["es", "ht"], "the oldest went first"


def booking_client(published: ScreenerVersion) -> Client:
    client = Client()
    reference = screening_reference(make_screening(published))
    assert client.get("/es/book/", {"screening": reference}).status_code == 302
    return client


def first_of_a_later_day(office: Office) -> Slot:
    """The first time of a day after tomorrow: the first on its times page whatever the hour
    (today's and tomorrow's pages start after the office's minimum notice, which moves)."""
    day = office.local_today(timezone.now()) + datetime.timedelta(days=2)
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=office.zone)
    return Slot.objects.filter(office=office, starts_at__gte=start).order_by("starts_at").first()


def test_the_times_page_is_kept_until_its_places_change(
    published: ScreenerVersion,
    live_office,  # noqa: F811 - the fixture imported above
    django_capture_on_commit_callbacks,
) -> None:
    slot = first_of_a_later_day(live_office)
    time_page = url("choose-slot", live_office.slug, slot.local_start().date())
    first, second = booking_client(published), booking_client(published)
    html, names = rendered(first, time_page)
    assert "appointments/book/time.html" in names
    assert f'value="{slot.pk}" id="id_slot_0"><label class="form-check-label" for="id_slot_0">' in html
    assert "2 plazas disponibles" in html
    again, names = rendered(second, time_page)
    assert names == []
    assert without_token(again) == without_token(html)
    # The second person holds the first time: everyone now sees one place left there.
    with django_capture_on_commit_callbacks(execute=True):
        assert second.post(time_page, {"slot": slot.pk}).status_code == 302
    html, names = rendered(first, time_page)
    assert "appointments/book/time.html" in names
    first_time = html[html.index('id="id_slot_0"') :]
    assert first_time.index("1 plaza disponible") < first_time.index('id="id_slot_1"')


def test_the_times_page_reads_the_session_the_office_and_the_times_in_one_cache_call(
    published: ScreenerVersion,
    live_office,  # noqa: F811 - the fixture imported above
) -> None:
    """At a release the times page costs one cache call: the session, the office, its
    availability version and the day's times read together (core.sessions.read_along,
    selectors.office_and_times)."""
    slot = bookable(live_office)
    time_page = url("choose-slot", live_office.slug, slot.local_start().date())
    client = booking_client(published)
    first = rendered(client, time_page)[0]
    with (
        mock.patch.object(cache, "get", wraps=cache.get) as get,
        mock.patch.object(cache, "get_many", wraps=cache.get_many) as get_many,
    ):
        again = rendered(client, time_page)[0]
    assert without_token(again) == without_token(first)
    assert get.call_args_list == [], "not even the session's own read"
    [keys] = [call.args[0] for call in get_many.call_args_list]
    assert keys[0] == KEY_PREFIX + client.session.session_key
    assert {key.rsplit(":", 1)[0] if "times" not in key else "times" for key in keys[1:]} == {
        "appointments:office",
        "appointments:availability",
        "times",
    }


def test_the_times_page_with_its_session_gone_from_the_cache_reads_it_from_the_database(
    published: ScreenerVersion,
    live_office,  # noqa: F811 - the fixture imported above
) -> None:
    """A session evicted from Redis (or Redis down) is read from PostgreSQL, as cached_db does:
    the person goes on with their booking."""
    slot = bookable(live_office)
    time_page = url("choose-slot", live_office.slug, slot.local_start().date())
    client = booking_client(published)
    cache.delete(KEY_PREFIX + client.session.session_key)
    html = rendered(client, time_page)[0]
    assert f'value="{slot.pk}"' in html
    assert cache.get(KEY_PREFIX + client.session.session_key), "back in the cache"


def test_the_times_page_whose_cache_read_fails_is_still_shown(
    published: ScreenerVersion,
    live_office,  # noqa: F811 - the fixture imported above
) -> None:
    """The read with the session fails in a way the Redis client does not catch (a copy that no
    longer unpickles after a deploy): the session, the office and the times come from elsewhere,
    never a 500."""
    slot = bookable(live_office)
    time_page = url("choose-slot", live_office.slug, slot.local_start().date())
    client = booking_client(published)
    rendered(client, time_page)
    with mock.patch.object(cache, "get_many", side_effect=ValueError("cannot unpickle")) as get_many:
        html = rendered(client, time_page)[0]
    assert get_many.called
    assert f'value="{slot.pk}"' in html


def at_the_summary(day: str, month: str, year: str) -> Client:
    """Someone who answered every question on the page-weight journey's path (a Guatemalan with an
    approved petition), born on this day."""
    client = Client()
    answers = {**ANSWERS, "date_of_birth": {"answer_0": day, "answer_1": month, "answer_2": year}}
    location = client.get(Q)["Location"]
    while not location.endswith("/questions/check/"):
        response = client.post(location, answers[location.rstrip("/").rsplit("/", 1)[-1]])
        assert response.status_code == 302, location
        location = response["Location"]
    return client


def test_the_summary_of_answers_is_kept_once_per_path_with_each_person_s_answers_filled_in(
    published: ScreenerVersion,
) -> None:
    """At a rush everyone reads the summary of their answers: kept once for the questions it lists
    (core.pages), each person's answers written in at marks for their request alone, never in the
    kept copy."""
    first_client, second_client = at_the_summary("17", "5", "1991"), at_the_summary("4", "11", "1984")
    first, names = rendered(first_client, "/en/questions/check/")
    assert "eligibility/check.html" in names
    assert "<dd>17/5/1991</dd>" in first
    assert "<dd>Guatemala</dd>" in first
    second, names = rendered(second_client, "/en/questions/check/")
    assert names == [], "the kept page, with this person's answers written in"
    assert "<dd>4/11/1984</dd>" in second
    assert "1991" not in second
    assert "answermark" not in second
    assert without_token(second.replace("4/11/1984", "17/5/1991")) == without_token(first)
    kept = " ".join(page.html for page in pages._pages.values())
    assert "1991" not in kept
    assert "1984" not in kept
    assert "Guatemala" not in kept
    assert "answermark" in kept


def finished(day: str, month: str, year: str) -> Client:
    client = at_the_summary(day, month, year)
    response = client.post("/en/questions/check/")
    assert (response.status_code, response["Location"]) == (302, "/en/questions/result/")
    return client


def test_the_result_page_is_kept_once_per_shape_with_each_person_s_reference_and_reasons_filled_in(
    published: ScreenerVersion,
) -> None:
    """The result page is kept once for each shape of result (which routes fit, how many reasons
    each): the booking link's signed reference and the reasons (they may quote the answers) are
    each person's, written in at marks, never in the kept copy."""
    first_client, second_client = finished("17", "5", "1991"), finished("4", "11", "1984")
    link = re.compile(r'href="/en/book/\?screening=([^"]+)"')
    first, names = rendered(first_client, "/en/questions/result/")
    assert "eligibility/result.html" in names
    second, names = rendered(second_client, "/en/questions/result/")
    assert names == [], "the kept page, with this person's reference written in"
    [mine], [theirs] = link.findall(first), link.findall(second)
    assert mine != theirs
    assert "markf3a9" not in second
    assert "referencemark" not in second
    assert without_token(second.replace(theirs, mine)) == without_token(first)
    kept = " ".join(page.html for page in pages._pages.values())
    assert mine not in kept
    assert theirs not in kept
    assert "referencemark" in kept
    # Each reference opens its own person's booking.
    for client, reference in ((first_client, mine), (second_client, theirs)):
        assert client.get(f"/en/book/?screening={reference}").status_code == 302


def test_a_kept_result_never_shows_another_screening_s_pathway_texts(published: ScreenerVersion) -> None:
    """A pathway edited after one process loaded it gives screenings of the same shape other texts
    (each keeps the texts it was given): each result page shows its own screening's."""
    first_client, second_client = finished("17", "5", "1991"), finished("4", "11", "1984")
    first, _ = rendered(first_client, "/en/questions/result/")
    session = second_client.session
    result = session["screening"]
    code = next(code for code, outcome in result["outcomes"].items() if outcome["eligible"])
    result["outcomes"][code]["description"]["en"] = "The route as the office describes it since."
    session["screening"] = result
    session.save()
    second, _ = rendered(second_client, "/en/questions/result/")
    assert "The route as the office describes it since." in second
    assert "The route as the office describes it since." not in first
    again, names = rendered(first_client, "/en/questions/result/")
    assert names == [], "the first person's page, kept"
    assert "The route as the office describes it since." not in again
