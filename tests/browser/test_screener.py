"""The whole screener in a real browser: Spanish, English and Haitian Creole, to an eligible and to a not-eligible
result, with a validation error, the back link and a change link on the way; and without JavaScript."""

import re
from typing import Any

import pytest
from django.apps import apps
from django.db import connections
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, Page, expect

from eligibility import seed
from eligibility.seed_creole import CREOLE
from tests.browser.conftest import CheckedPage

LABELS = {
    "es": {
        "start": "Comenzar",
        "continue": "Continuar",
        "back": "Atrás",
        "change": "Cambiar",
        "see": "Ver mi resultado",
        "date": ("Día", "Mes", "Año"),
        "yes": "Sí",
        "no": "No",
        "check": "Revise sus respuestas",
        "result": "Su resultado",
        "eligible": "Esta vía puede corresponderle",
        "not_eligible": "Según sus respuestas, ninguna de las vías le corresponde por ahora.",
        "mistake": "¿Se equivocó? Revise y cambie sus respuestas",
        "not_served": "La oficina de Colombia solo atiende a personas de Cuba, Haití o Venezuela.",
        "book": "Pedir una cita",
        "office": "Elija una oficina",
        "help": "Dónde más puede pedir ayuda",
        "problem": "Hay un problema",
        "real_date": "Escriba una fecha que exista.",
    },
    "en": {
        "start": "Start now",
        "continue": "Continue",
        "back": "Back",
        "change": "Change",
        "see": "See my result",
        "date": ("Day", "Month", "Year"),
        "yes": "Yes",
        "no": "No",
        "check": "Check your answers",
        "result": "Your result",
        "eligible": "This route may fit you",
        "not_eligible": "From your answers, none of the routes fits you for now.",
        "mistake": "Made a mistake? Check and change your answers",
        "not_served": "The office in Colombia serves only people from Cuba, Haiti or Venezuela.",
        "book": "Book an appointment",
        "office": "Choose an office",
        "help": "Where else to get help",
        "problem": "There is a problem",
        "real_date": "Enter a real date.",
    },
}
QUESTIONS = {question["key"]: question for question in seed.QUESTIONS}


def in_creole(english: dict[str, Any], **special: Any) -> dict[str, Any]:
    """The English words as the Creole catalogue says them (a word it lacks fails the test)."""
    words: dict[str, Any] = {}
    with translation.override("ht"):
        for key, value in english.items():
            parts = value if isinstance(value, tuple) else (value,)
            said = tuple(gettext(part) for part in parts)
            assert key in special or all(s != p for s, p in zip(said, parts, strict=True)), f"no Creole for {value}"
            words[key] = special.get(key, said if isinstance(value, tuple) else said[0])
    return words


LABELS["ht"] = in_creole(
    LABELS["en"],
    not_served="Nan Kolonbi, biwo a sèvi sèlman moun ki soti Ayiti, Kiba oswa Venezwela.",
)


def text_in(text: dict[str, str], language: str) -> str:
    return text.get(language) or CREOLE[text["en"]]


def label(key: str, language: str) -> str:
    return text_in(QUESTIONS[key]["label"], language)


def choice(key: str, value: str, language: str) -> str:
    return next(text_in(c, language) for c in QUESTIONS[key]["choices"] if c["value"] == value)


def progress(language: str) -> re.Pattern:
    with translation.override(language):
        said = gettext("Question %(number)s of up to %(total)s")
    return re.compile(re.escape(said).replace(re.escape("%(number)s"), "1").replace(re.escape("%(total)s"), r"\d+"))


@pytest.fixture(autouse=True)
def _seeded(transactional_db: None) -> None:
    seed.load(apps)
    seed.add_creole(apps)
    # Seeding here was seen (in pg_stat_activity) to use a connection other than the test's main
    # one, left open after the test: close it, or it outlives the test database.
    connections.close_all()


class Screener:
    """Answers the questions the way a person does, checking every page it reaches."""

    def __init__(self, checked: CheckedPage, language: str) -> None:
        self.checked, self.page, self.language, self.words = checked, checked.page, language, LABELS[language]

    def heading_is(self, text: str) -> None:
        expect(self.page.get_by_role("heading", level=1)).to_have_text(text)

    def submit(self, button: str | None = None) -> None:
        self.page.get_by_role("button", name=button or self.words["continue"]).click()
        self.checked.check_accessibility()

    def country(self, key: str, code: str) -> None:
        self.heading_is(label(key, self.language))
        self.page.locator("select#id_answer").select_option(code)
        self.submit()

    def radio(self, key: str, text: str) -> None:
        self.heading_is(label(key, self.language))
        self.page.get_by_label(text, exact=True).check()
        self.submit()

    def date(self, key: str, parts: tuple[str, str, str]) -> None:
        self.heading_is(label(key, self.language))
        for box, value in zip(self.words["date"], parts, strict=True):
            self.page.get_by_label(box, exact=True).fill(value)
        self.submit()

    def follow(self, name: str | re.Pattern) -> None:
        self.page.get_by_role("link", name=name).click()
        self.checked.check_accessibility()


@pytest.mark.parametrize("language", ["es", "en", "ht"])
@pytest.mark.parametrize("eligible", [True, False], ids=["eligible", "not-eligible"])
def test_whole_screener(checked_page: CheckedPage, language: str, eligible: bool) -> None:
    page, words = checked_page.page, LABELS[language]
    page.set_viewport_size({"width": 320, "height": 640})
    screener = Screener(checked_page, language)
    checked_page.goto(f"/{language}/")
    screener.follow(words["start"])
    expect(page.get_by_text(progress(language))).to_be_visible()

    screener.submit()  # nothing chosen: the error summary, on a page axe has checked
    expect(page.get_by_role("alert")).to_contain_text(words["problem"])
    with translation.override(language):
        expect(page).to_have_title(re.compile("^" + re.escape(gettext("Error:")) + " "))
    if not eligible:
        # A Colombian in Colombia: the office there does not serve Colombians. The questions stop
        # at once, with the reason, said once.
        screener.country("current_country", "CO")
        screener.country("nationality", "CO")
        screener.heading_is(words["result"])
        expect(page.get_by_text(words["not_eligible"])).to_be_visible()
        expect(page.get_by_text(words["not_served"])).to_have_count(1)
        expect(page.get_by_role("heading", name=words["help"])).to_be_visible()
        expect(page.get_by_role("link", name=words["book"])).to_have_count(0)
        checked_page.screenshot(f"screener-stopped-320-{language}")
        # A slip of the finger is put right from the result.
        screener.follow(words["mistake"])
        screener.heading_is(words["check"])
        screener.follow(re.compile(f"^{words['change']} {re.escape(label('nationality', language))}"))
        screener.country("nationality", "VE")
        screener.heading_is(label("date_of_birth", language))
        return
    screener.country("current_country", "GT")
    screener.country("nationality", "GT")

    screener.follow(words["back"])  # from the date of birth back to the nationality, answer kept
    screener.heading_is(label("nationality", language))
    expect(page.locator("select#id_answer")).to_have_value("GT")
    screener.follow(words["back"])
    screener.heading_is(label("current_country", language))
    screener.submit()  # Continue leads to the next question in order, not further
    screener.heading_is(label("nationality", language))
    screener.submit()

    screener.date("date_of_birth", ("31", "2", "1990"))
    expect(page.get_by_role("alert")).to_contain_text(words["real_date"])
    screener.date("date_of_birth", ("28", "2", "1990"))
    screener.radio("fear_of_persecution", words["no"])
    screener.radio("us_relative", choice("us_relative", "citizen", language))
    screener.radio("i130_filed", choice("i130_filed", "yes", language))
    screener.radio("i130_approved", choice("i130_approved", "yes", language))
    screener.radio("job_offer", choice("job_offer", "no", language))
    screener.heading_is(words["check"])

    screener.follow(re.compile(f"^{words['change']} {re.escape(label('job_offer', language))}"))
    screener.radio("job_offer", choice("job_offer", "agricultural", language))
    screener.heading_is(words["check"])
    expect(page.get_by_text(choice("job_offer", "agricultural", language))).to_be_visible()

    screener.submit(words["see"])
    screener.heading_is(words["result"])
    # A Guatemalan with an approved I-130 and a farm job offer: two pathways fit, and the button
    # to book is on the first screen of a 320 px phone.
    expect(page.get_by_text(words["eligible"], exact=True)).to_have_count(2)
    expect(page.get_by_role("link", name=words["book"])).to_be_in_viewport()
    checked_page.screenshot(f"screener-result-320-{language}")
    screener.follow(words["book"])
    screener.heading_is(words["office"])


def test_whole_flow_without_javascript(browser: Browser, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, locale="es-GT")
    page: Page = context.new_page()
    axe_context = browser.new_context()
    checked = CheckedPage(page, live_server.url, axe_page=axe_context.new_page())
    screener = Screener(checked, "es")
    checked.goto("/es/")
    screener.follow("Comenzar")
    screener.submit()
    expect(page.get_by_role("alert")).to_contain_text("Hay un problema")
    expect(page.get_by_role("alert")).to_be_focused()  # autofocus, no script needed
    screener.country("current_country", "CR")
    screener.country("nationality", "NI")
    screener.date("date_of_birth", ("1", "2", "1985"))
    screener.date("arrival_date", ("1", "1", "2022"))
    screener.radio("legal_status", "Solicitante de asilo registrado")
    screener.follow("Atrás")
    screener.submit()
    screener.radio("fear_of_persecution", "Sí")
    screener.radio("us_relative", "No")
    screener.radio("job_offer", "No")
    screener.submit("Ver mi resultado")
    expect(page.get_by_text("Una vía puede corresponderle:")).to_be_visible()
    checked.verify()
    context.close()
    axe_context.close()
