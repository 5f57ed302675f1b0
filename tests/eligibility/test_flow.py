"""The applicant's screener through Django's test client: the journey and every bad input."""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eligibility.models import Pathway, PathwayRule, Question, ScreenerVersion, Screening
from eligibility.services import create_draft, publish_version, screening_reference

Q = "/en/questions/"


def date(day: str, month: str, year: str) -> dict[str, str]:
    return {"answer_0": day, "answer_1": month, "answer_2": year}


# A reason the result gives for a route that does not fit (it quotes an answer: no job offer).
NOT_FITTING_REASON = "Temporary work visas need a job offer from a US employer."

GUATEMALAN_WITH_PETITION = [
    ("current_country", {"answer": "GT"}),
    ("nationality", {"answer": "GT"}),
    ("date_of_birth", date("17", "5", "1990")),
    ("fear_of_persecution", {"answer": "no"}),
    ("us_relative", {"answer": "citizen"}),
    ("i130_filed", {"answer": "yes"}),
    ("i130_approved", {"answer": "yes"}),
    ("job_offer", {"answer": "no"}),
]


def answer_all(client: Client, steps: list) -> None:
    for index, (key, data) in enumerate(steps):
        response = client.post(f"{Q}{key}/", data)
        assert response.status_code == 302, (key, response.content.decode()[:2000])
        expected = f"{Q}{steps[index + 1][0]}/" if index + 1 < len(steps) else f"{Q}check/"
        assert response["Location"] == expected, key


def session_answers(client: Client) -> dict:
    return client.session.get("screener", {}).get("answers", {})


@pytest.fixture
def started(client: Client, published: ScreenerVersion) -> Client:
    client.get(Q)
    return client


def test_question_page(started: Client) -> None:
    html = started.get(f"{Q}current_country/").content.decode()
    assert '<h1><label for="id_answer">Which country do you live in now?</label></h1>' in html
    assert "Question 1 of up to 10" in html  # every question may still be asked
    assert 'href="/en/"' in html  # back to the start page
    options = re.findall(r'<option value="(\w*)"', html)
    assert options[:5] == ["", "GT", "CO", "CR", "EC"], "the program's countries come first"


def test_whole_journey_to_an_eligible_result(started: Client) -> None:
    assert started.get(Q)["Location"] == f"{Q}current_country/"
    answer_all(started, GUATEMALAN_WITH_PETITION)
    html = started.get(f"{Q}check/").content.decode()
    assert "<h1>Check your answers</h1>" in html
    assert "17/5/1990" in html
    assert 'href="/en/questions/nationality/?change=1"' in html
    response = started.post(f"{Q}check/")
    assert response["Location"] == f"{Q}result/"
    screening = Screening.objects.get()
    assert screening.eligible_pathways == ["family-reunification"]
    assert screening.language == "en"
    assert "screener" not in started.session
    html = started.get(f"{Q}result/").content.decode()
    assert "One route may fit you:" in html
    assert "This route may fit you" in html
    assert "A relative in the United States has an approved I-130 petition for you." in html
    assert "the I-130 approval notice" in html
    # Lead, then the button, then the details; the routes that do not fit are folded.
    lead, button, details = (
        html.index(text) for text in ("One route may fit you", "Book an appointment</a>", "<details")
    )
    assert lead < button < html.index('<h2 id="pathway-1">Family reunification parole</h2>') < details
    folded = html[details : html.index("</details>")]
    assert "2 routes do not fit you for now" in folded
    assert "Refugee processing is for people who were persecuted or fear persecution." in folded
    assert re.findall(r'<h2 class="h5">([^<]+)</h2>', folded) == [
        "Refugee processing (United States)",
        "Temporary work visas (H-2A and H-2B)",
    ], "in display order"

    # Editing a pathway's texts later does not rewrite a result already given.
    Pathway.objects.filter(code="family-reunification").update(name_en="Renamed", bring_en="Something else")
    html = started.get(f"{Q}result/").content.decode()
    assert "Family reunification parole" in html
    assert "Renamed" not in html
    booking = re.search(r'href="(/en/book/\?screening=[^"]+)"', html)
    assert booking, "an eligible result offers a booking link"
    response = started.get(booking[1].replace("&amp;", "&"), follow=True)
    assert response.redirect_chain == [("/en/book/office/", 302)]
    assert "Choose an office" in response.content.decode()


def test_a_nationality_not_served_stops_at_once_and_says_where_else_to_get_help(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "CO"})
    response = started.post(f"{Q}nationality/", {"answer": "CO"})
    assert response["Location"] == f"{Q}result/", "no pathway can fit: no more questions"
    screening = Screening.objects.get()
    assert screening.eligible_pathways == []
    html = started.get(f"{Q}result/").content.decode()
    assert "none of the routes fits you for now" in html
    assert "You may be" not in html
    # One reason, said once, naming who this country's office serves.
    assert html.count("The office in Colombia serves only people from Cuba, Haiti or Venezuela.") == 1
    assert "Where else to get help" in html
    assert "/book/" not in html
    # The answers are still there to change.
    assert 'href="/en/questions/check/"' in html
    html = started.get(f"{Q}check/").content.decode()
    assert 'href="/en/questions/nationality/?change=1"' in html
    started.post(f"{Q}nationality/?change=1", {"answer": "VE"})
    assert started.get(Q)["Location"] == f"{Q}date_of_birth/"


def test_under_18_stops_after_the_date_of_birth_with_the_reason(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "GT"})
    started.post(f"{Q}nationality/", {"answer": "GT"})
    response = started.post(f"{Q}date_of_birth/", date("1", "1", "2015"))
    assert response["Location"] == f"{Q}result/"
    html = started.get(f"{Q}result/").content.decode()
    assert "You may be" not in html
    assert "You must be 18 or older. Family members under 18 are listed on an adult&#x27;s appointment." in html
    assert set(Screening.objects.get().answers) == {"current_country", "nationality", "age"}


def test_no_office_in_the_country_stops_at_the_first_question(started: Client) -> None:
    response = started.post(f"{Q}current_country/", {"answer": "PE"})
    assert response["Location"] == f"{Q}result/"
    html = started.get(f"{Q}result/").content.decode()
    assert "There is no Safe Mobility Office in Peru." in html


def test_an_arrival_before_the_date_of_birth_is_refused(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "CO"})
    started.post(f"{Q}nationality/", {"answer": "VE"})
    started.post(f"{Q}date_of_birth/", date("1", "1", "1990"))
    response = started.post(f"{Q}arrival_date/", date("1", "1", "1989"))
    assert response.status_code == 200
    assert "The date you arrived cannot be before your date of birth." in response.content.decode()
    assert "arrival_date" not in session_answers(started)
    assert started.post(f"{Q}arrival_date/", date("1", "1", "1990")).status_code == 302
    # Nor can the date of birth be changed to after the arrival.
    response = started.post(f"{Q}date_of_birth/?change=1", date("2", "1", "1990"))
    assert "Your date of birth cannot be after the date you arrived" in response.content.decode()
    assert session_answers(started)["date_of_birth"] == "1990-01-01"


def test_the_country_list_has_no_selectable_separator(started: Client) -> None:
    html = started.get(f"{Q}current_country/").content.decode()
    assert "──" not in html
    assert re.findall(r"<optgroup label=\"([^\"]+)\">", html) == ["Countries most people choose", "All other countries"]
    response = started.post(f"{Q}current_country/", {"answer": ""})
    assert "Select a country." in response.content.decode()


def test_radio_and_date_questions_are_fieldsets_with_the_question_as_h1(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "CR"})
    started.post(f"{Q}nationality/", {"answer": "NI"})
    html = started.get(f"{Q}date_of_birth/").content.decode()
    assert "<legend><h1>What is your date of birth?</h1></legend>" in html
    assert "Question 3 of up to 10" in html  # a Nicaraguan in Costa Rica may be asked every question
    assert 'autocomplete="bday-day"' in html
    started.post(f"{Q}date_of_birth/", date("1", "1", "1980"))
    started.post(f"{Q}arrival_date/", date("1", "1", "2021"))
    html = started.get(f"{Q}legal_status/").content.decode()
    assert "<legend><h1>What is your immigration status in the country where you live now?</h1></legend>" in html
    assert 'type="radio" name="answer" value="asylum_seeker"' in html


def test_continue_after_going_back_leads_to_the_next_question(started: Client) -> None:
    for key, data in GUATEMALAN_WITH_PETITION[:4]:
        started.post(f"{Q}{key}/", data)
    response = started.post(f"{Q}current_country/", {"answer": "GT"})
    assert response["Location"] == f"{Q}nationality/"


def test_back_link_keeps_the_answer(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "CR"})
    html = started.get(f"{Q}nationality/").content.decode()
    assert f'href="{Q}current_country/"' in html
    assert '<option value="CR" selected>' in started.get(f"{Q}current_country/").content.decode()


def test_change_link_returns_to_the_summary_and_drops_answers_that_no_longer_apply(started: Client) -> None:
    answer_all(started, GUATEMALAN_WITH_PETITION)
    html = started.get(f"{Q}us_relative/?change=1").content.decode()
    assert f'href="{Q}check/"' in html
    response = started.post(f"{Q}us_relative/?change=1", {"answer": "no"})
    assert response["Location"] == f"{Q}check/"
    assert "i130_approved" not in session_answers(started)


def test_change_that_opens_a_new_question_asks_it_first(started: Client) -> None:
    steps = [
        *GUATEMALAN_WITH_PETITION[:3],
        ("fear_of_persecution", {"answer": "yes"}),
        ("us_relative", {"answer": "no"}),
    ]
    answer_all(started, [*steps, ("job_offer", {"answer": "no"})])
    response = started.post(f"{Q}us_relative/?change=1", {"answer": "citizen"})
    assert response["Location"] == f"{Q}i130_filed/"


@pytest.mark.parametrize(
    ("key", "before", "data", "message"),
    [
        ("current_country", [], {}, "Select a country."),
        ("current_country", [], {"answer": "XX"}, "Select a country from the list."),
        ("fear_of_persecution", ["GT", "GT", "1990-01-01"], {"answer": "maybe"}, "Select yes or no."),
        ("us_relative", ["GT", "GT", "1990-01-01", "no"], {"answer": "cousin"}, "Select one of the options."),
        ("us_relative", ["GT", "GT", "1990-01-01", "no"], {}, "Select an answer."),
        ("date_of_birth", ["GT", "GT"], {"answer_0": "31", "answer_1": "2", "answer_2": "1990"}, "Enter a real date."),
        (
            "date_of_birth",
            ["GT", "GT"],
            {"answer_0": "31", "answer_1": "", "answer_2": "1990"},
            "Enter the day, the month and the year.",
        ),
        (
            "date_of_birth",
            ["GT", "GT"],
            {"answer_0": "aa", "answer_1": "2", "answer_2": "1990"},
            "Enter the date in numbers",
        ),
        (
            "date_of_birth",
            ["GT", "GT"],
            {"answer_0": "1", "answer_1": "1", "answer_2": "2999"},
            "The date must be in the past.",
        ),
        ("date_of_birth", ["GT", "GT"], {}, "Enter a date."),
    ],
)
def test_bad_answers_show_the_form_again_with_errors(
    started: Client, key: str, before: list, data: dict, message: str
) -> None:
    keys = ["current_country", "nationality", "date_of_birth", "fear_of_persecution"]
    answers = dict(zip(keys, before, strict=False))
    session = started.session
    session["screener"] = {"version": ScreenerVersion.objects.get(status="published").pk, "answers": answers}
    session.save()
    response = started.post(f"{Q}{key}/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h2 id="error-summary-title" class="error-summary__title">There is a problem</h2>' in html
    assert html.count(message) == 2, "in the summary and at the field"
    assert "<title>Error: " in html
    assert session_answers(started) == answers, "nothing is stored"


def test_errors_are_translated(client: Client, published: ScreenerVersion) -> None:
    client.get("/es/questions/")
    html = client.post("/es/questions/current_country/", {}).content.decode()
    assert "Hay un problema" in html
    assert "Seleccione un país." in html


def test_answering_a_question_that_does_not_apply_is_refused(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "GT"})
    started.post(f"{Q}nationality/", {"answer": "GT"})
    before = session_answers(started)
    response = started.post(f"{Q}arrival_date/", date("1", "1", "2020"))
    assert response.status_code == 400
    assert "That question does not apply to your answers." in response.content.decode()
    assert session_answers(started) == before
    unknown = started.post(f"{Q}no-such-question/", {"answer": "yes"})
    assert unknown.status_code == 400


def test_skipping_ahead_is_refused(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "GT"})
    response = started.post(f"{Q}job_offer/", {"answer": "no"})
    assert response.status_code == 400
    assert "Please answer the questions in order." in response.content.decode()
    assert session_answers(started) == {"current_country": "GT"}
    assert started.get(f"{Q}job_offer/")["Location"] == f"{Q}nationality/"


@pytest.mark.parametrize("page", ["check/", "result/", "nationality/"])
def test_pages_without_answers_send_to_the_start(client: Client, published: ScreenerVersion, page: str) -> None:
    response = client.get(f"{Q}{page}")
    assert response.status_code == 302
    assert response["Location"] == ("/en/" if page in {"check/", "result/"} else Q)


def test_rules_changed_midway_the_applicant_finishes_on_their_version(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "GT"})
    original = ScreenerVersion.objects.get(status="published")
    draft = create_draft(source=original)
    Question.objects.filter(version=draft, key="nationality").update(label_en="Citizenship?")
    rule = PathwayRule.objects.get(version=draft, pathway__code="family-reunification")
    rule.condition = {"any": [], "reason": {"en": "Closed.", "es": "Cerrada."}}  # nobody is eligible now
    rule.save()
    publish_version(version=draft)

    assert "What is your nationality?" in started.get(f"{Q}nationality/").content.decode()
    answer_all(started, GUATEMALAN_WITH_PETITION)
    started.post(f"{Q}check/")
    screening = Screening.objects.get()
    assert screening.version == original
    assert screening.eligible_pathways == ["family-reunification"]

    newcomer = Client()
    newcomer.get(Q)
    newcomer.post(f"{Q}current_country/", {"answer": "GT"})
    assert "Citizenship?" in newcomer.get(f"{Q}nationality/").content.decode()


def test_booking_reference(client: Client, published: ScreenerVersion, settings) -> None:
    client.get(Q)
    answer_all(client, GUATEMALAN_WITH_PETITION)
    client.post(f"{Q}check/")
    screening = Screening.objects.get()
    reference = screening_reference(screening)
    response = client.get("/en/book/", {"screening": reference})
    assert response.status_code == 302
    assert response["Location"] == "/en/book/office/"
    client.cookies.clear()  # a new visitor: nothing in the session to continue

    tampered = reference[:-2] + ("A" if reference[-2] != "A" else "B") + reference[-1]
    forged = signing.dumps({"screening": screening.pk}, salt="something-else")
    for bad in (tampered, forged, "", "not-a-reference"):
        response = client.get("/en/book/", {"screening": bad})
        assert response.status_code == 400
        assert (
            "This booking link is not valid. Please answer the questions to get a new one." in response.content.decode()
        )

    # A correctly signed reference to a result with nothing eligible, or to no result at all.
    not_eligible = Screening.objects.create(version=screening.version, answers={}, outcomes={}, language="en")
    for pk in (not_eligible.pk, 999_999):
        signed = signing.dumps({"screening": pk}, salt="eligibility.screening-reference", compress=True)
        assert client.get("/en/book/", {"screening": signed}).status_code == 400

    # A reference older than the validity window is refused with its own message.
    settings.SCREENING_VALID_DAYS = -1
    response = client.get("/en/book/", {"screening": reference})
    assert response.status_code == 400
    assert "Your answers are too old to book with." in response.content.decode()


def test_question_pages_read_nothing_from_the_database_once_started(started: Client) -> None:
    counts = []
    for key, data in GUATEMALAN_WITH_PETITION:
        with CaptureQueriesContext(connection) as queries:
            assert started.get(f"{Q}{key}/").status_code == 200
        counts.append(len(queries))
        started.post(f"{Q}{key}/", data)
    # The process knows which version is published (the start button asked) and keeps its
    # questions (frozen once published); the first answer pins it: no query at all.
    assert counts == [0] * len(GUATEMALAN_WITH_PETITION), counts


def test_the_start_button_and_the_first_question_write_no_session(client: Client, published: ScreenerVersion) -> None:
    sessions = Session.objects.count()
    response = client.get(Q)
    assert response.status_code == 302
    assert response["Location"] == f"{Q}current_country/"
    response = client.get(f"{Q}current_country/")
    assert response.status_code == 200
    assert "Which country do you live in now?" in response.content.decode()
    assert "sessionid" not in client.cookies
    assert Session.objects.count() == sessions, "nothing stored for a visitor who has only looked"
    # The first answer pins the version it answers.
    assert client.post(f"{Q}current_country/", {"answer": "GT"})["Location"] == f"{Q}nationality/"
    assert client.session["screener"]["version"] == published.pk
    assert client.session["screener"]["answers"] == {"current_country": "GT"}
    assert Session.objects.count() == sessions + 1


def test_a_started_screener_is_not_written_again_by_its_pages(started: Client) -> None:
    started.post(f"{Q}current_country/", {"answer": "GT"})
    stored = Session.objects.get(session_key=started.session.session_key)
    for path in (Q, f"{Q}current_country/", f"{Q}nationality/"):
        response = started.get(path)
        assert response.status_code in (200, 302), path
        assert "sessionid" not in response.cookies, path
    assert Session.objects.get(session_key=stored.session_key).expire_date == stored.expire_date


def test_a_question_not_first_before_starting_goes_to_the_start(client: Client, published: ScreenerVersion) -> None:
    response = client.post(f"{Q}nationality/", {"answer": "GT"})
    assert response.status_code == 400
    assert "Please answer the questions in order." in response.content.decode()
    assert "screener" not in client.session


def test_answering_again_from_the_start_forgets_the_answers(started: Client) -> None:
    for key, data in GUATEMALAN_WITH_PETITION[:3]:
        started.post(f"{Q}{key}/", data)
    assert len(session_answers(started)) == 3
    response = started.get(Q, {"restart": "1"})
    assert response["Location"] == f"{Q}current_country/"
    assert "screener" not in started.session
    assert started.get(f"{Q}nationality/")["Location"] == Q


def test_a_version_published_by_another_process_reaches_new_visitors_within_seconds(
    client: Client, published: ScreenerVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eligibility import selectors

    assert client.get(Q)["Location"] == f"{Q}current_country/"
    draft = create_draft(source=published)
    Question.objects.filter(version=draft, key="current_country").update(label_en="Where do you live?")
    # Published elsewhere: this process is not told.
    ScreenerVersion.objects.filter(pk=published.pk).update(status="retired")
    ScreenerVersion.objects.filter(pk=draft.pk).update(status="published", published_at=timezone.now())
    assert "Which country do you live in now?" in Client().get(f"{Q}current_country/").content.decode()
    later = time.monotonic() + selectors.PUBLISHED_CHECK_SECONDS
    monkeypatch.setattr(selectors.time, "monotonic", lambda: later)
    newcomer = Client()
    assert "Where do you live?" in newcomer.get(f"{Q}current_country/").content.decode()
    newcomer.post(f"{Q}current_country/", {"answer": "GT"})
    assert newcomer.session["screener"]["version"] == draft.pk


def test_a_version_published_here_reaches_new_visitors_at_once(client: Client, published: ScreenerVersion) -> None:
    assert "Which country do you live in now?" in client.get(f"{Q}current_country/").content.decode()
    draft = create_draft(source=published)
    Question.objects.filter(version=draft, key="current_country").update(label_en="Where do you live?")
    publish_version(version=draft)
    assert "Where do you live?" in Client().get(f"{Q}current_country/").content.decode()


def test_a_version_kept_by_the_process_is_not_used_once_rolled_back_and_replaced(
    client: Client, published: ScreenerVersion
) -> None:
    """A copy is filed under the version and when it was published, so another version that comes
    back under the same id (tests, a restored database) is read again."""
    from eligibility.selectors import frozen_stamp, pinned_screener, screener_of

    kept = screener_of(published)
    assert pinned_screener(published.pk, frozen_stamp(published)) is kept
    with CaptureQueriesContext(connection) as queries:
        pinned_screener(published.pk, frozen_stamp(published))
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        again = pinned_screener(published.pk, "2020-01-01T00:00:00+00:00")
    assert len(queries) >= 1, "an unknown stamp reads the version"
    assert again is kept
    draft = create_draft(source=published)
    assert screener_of(draft) is not screener_of(draft), "a draft is still being edited: never kept"


def test_answers_need_the_csrf_token(published: ScreenerVersion) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.get(Q)
    response = strict.post(f"{Q}current_country/", {"answer": "GT"})
    assert response.status_code == 403
    assert session_answers(strict) == {}


def test_a_pathway_with_nothing_to_bring_still_shows_its_result(started: Client) -> None:
    Pathway.objects.update(bring_en="", bring_es="", bring_ht="")
    answer_all(started, GUATEMALAN_WITH_PETITION)
    started.post(f"{Q}check/")
    for language in ("en", "es", "ht"):
        response = started.get(f"/{language}/questions/result/")
        assert response.status_code == 200
        assert "What to bring" not in response.content.decode()


def test_a_started_screener_is_counted_once_by_host_country(started: Client, published: ScreenerVersion) -> None:
    """The reports' funnel begins with the screeners started: a first answer given, counted
    anonymously per hour and host country; going back and answering again is not a new start."""
    from eligibility.models import ScreenerStart

    for key, data in GUATEMALAN_WITH_PETITION[:3]:
        assert started.post(f"{Q}{key}/", data).status_code == 302
    started.post(f"{Q}current_country/", {"answer": "GT"})  # the first question answered again
    other = Client()
    other.get(Q)
    other.post(f"{Q}current_country/", {"answer": "CO"})
    other.post(f"{Q}current_country/", {"answer": ""})  # a refused answer in a third session starts nothing
    Client().post(f"{Q}current_country/", {"answer": "not a country"})
    assert dict(ScreenerStart.objects.values_list("host_country", "started")) == {"GT": 1, "CO": 1}


def finished_result(client: Client) -> str:
    answer_all(client, GUATEMALAN_WITH_PETITION)
    assert client.post(f"{Q}check/")["Location"] == f"{Q}result/"
    return client.get(f"{Q}result/").content.decode()


def test_the_result_page_reads_nothing_from_the_database(started: Client, django_assert_num_queries) -> None:
    """At a rush the result page is read as often as a question: what it shows rides in the
    session, so it costs no query (and no connection check) at all."""
    first = finished_result(started)
    with django_assert_num_queries(0):
        again = started.get(f"{Q}result/").content.decode()
    assert "This route may fit you" in again
    assert NOT_FITTING_REASON in again
    assert again.count("/en/book/?screening=") == first.count("/en/book/?screening=") == 1


def test_a_session_from_before_the_result_rode_in_it_still_shows_it(started: Client) -> None:
    """A session started before a deploy keeps only the screening's number: its page reads it."""
    first = finished_result(started)
    session = started.session
    session["screening"] = session["screening"]["screening"]
    session.save()
    html = started.get(f"{Q}result/").content.decode()
    assert "This route may fit you" in html
    assert NOT_FITTING_REASON in html
    assert re.sub(r"screening=[^\"]+", "", html) == re.sub(r"screening=[^\"]+", "", first)
