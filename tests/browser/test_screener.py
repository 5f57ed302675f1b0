"""The whole screener in a real browser, in Spanish and English, with and without JavaScript."""

import re

import pytest
from django.apps import apps
from playwright.sync_api import Browser, Page, expect

from eligibility import seed
from tests.browser.conftest import CheckedPage


@pytest.fixture(autouse=True)
def _seeded(transactional_db: None) -> None:
    seed.load(apps)


def continue_(checked: CheckedPage, label: str) -> None:
    checked.page.get_by_role("button", name=label).click()
    checked.check_accessibility()


def choose(checked: CheckedPage, option: str, button: str) -> None:
    checked.page.get_by_label(option, exact=True).check()
    continue_(checked, button)


def country(checked: CheckedPage, code: str, button: str) -> None:
    checked.page.locator("select#id_answer").select_option(code)
    continue_(checked, button)


def date(checked: CheckedPage, parts: tuple[str, str, str], labels: tuple[str, str, str], button: str) -> None:
    for label, value in zip(labels, parts, strict=True):
        checked.page.get_by_label(label, exact=True).fill(value)
    continue_(checked, button)


def test_spanish_to_an_eligible_result_with_back_and_change(checked_page: CheckedPage) -> None:
    page = checked_page.page
    page.set_viewport_size({"width": 320, "height": 640})
    checked_page.goto("/es/")
    page.get_by_role("link", name="Comenzar").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("¿En qué país vive ahora?")
    expect(page.get_by_text("Pregunta 1 de unas")).to_be_visible()
    country(checked_page, "GT", "Continuar")
    country(checked_page, "GT", "Continuar")

    page.get_by_role("link", name="Atrás").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("¿Cuál es su nacionalidad?")
    expect(page.locator("select#id_answer")).to_have_value("GT")
    continue_(checked_page, "Continuar")

    date(checked_page, ("17", "5", "1990"), ("Día", "Mes", "Año"), "Continuar")
    choose(checked_page, "No", "Continuar")  # persecution
    choose(checked_page, "Sí, un ciudadano estadounidense", "Continuar")
    choose(checked_page, "Sí", "Continuar")  # I-130 approved
    choose(checked_page, "No", "Continuar")  # job offer
    expect(page.get_by_role("heading", level=1)).to_have_text("Revise sus respuestas")
    checked_page.screenshot("screener-check-320-es")

    page.get_by_role("link", name="Cambiar ¿Tiene una oferta de trabajo de un empleador en Estados Unidos?").click()
    checked_page.check_accessibility()
    choose(checked_page, "Sí, trabajo agrícola", "Continuar")
    expect(page.get_by_role("heading", level=1)).to_have_text("Revise sus respuestas")
    expect(page.get_by_text("Sí, trabajo agrícola")).to_be_visible()

    continue_(checked_page, "Ver mi resultado")
    expect(page.get_by_role("heading", level=1)).to_have_text("Su resultado")
    expect(page.get_by_text("2 vías pueden corresponderle.")).to_be_visible()
    expect(page.get_by_text("Puede ser elegible")).to_have_count(2)
    checked_page.screenshot("screener-result-320-es")
    page.get_by_role("link", name="Pedir una cita").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pedir una cita")


def test_english_to_a_not_eligible_result_with_a_validation_error(checked_page: CheckedPage) -> None:
    page = checked_page.page
    checked_page.goto("/en/questions/")
    continue_(checked_page, "Continue")  # nothing chosen
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page).to_have_title(re.compile(r"^Error: "))
    checked_page.screenshot("screener-error-en")
    page.get_by_role("alert").get_by_role("link", name="Select a country.").click()
    expect(page.locator("select#id_answer")).to_be_focused()

    country(checked_page, "CO", "Continue")
    country(checked_page, "CO", "Continue")
    date(checked_page, ("31", "2", "1990"), ("Day", "Month", "Year"), "Continue")
    expect(page.get_by_role("alert")).to_contain_text("Enter a real date.")
    date(checked_page, ("28", "2", "1990"), ("Day", "Month", "Year"), "Continue")
    choose(checked_page, "Yes", "Continue")
    choose(checked_page, "No", "Continue")
    choose(checked_page, "No", "Continue")
    continue_(checked_page, "See my result")
    expect(page.get_by_text("You are not eligible")).to_have_count(3)
    expect(page.get_by_text("does not serve people of your nationality").first).to_be_visible()
    expect(page.get_by_role("heading", name="Where else to get help")).to_be_visible()


def test_whole_flow_without_javascript(browser: Browser, live_server) -> None:
    context = browser.new_context(java_script_enabled=False, locale="es-GT")
    page: Page = context.new_page()
    axe_context = browser.new_context()
    checked = CheckedPage(page, live_server.url, axe_page=axe_context.new_page())
    checked.goto("/es/")
    page.get_by_role("link", name="Comenzar").click()
    checked.check_accessibility()
    country(checked, "CR", "Continuar")
    country(checked, "NI", "Continuar")
    date(checked, ("1", "2", "1985"), ("Día", "Mes", "Año"), "Continuar")
    date(checked, ("1", "1", "2022"), ("Día", "Mes", "Año"), "Continuar")
    choose(checked, "Solicitante de asilo registrado", "Continuar")
    choose(checked, "Sí", "Continuar")
    choose(checked, "No", "Continuar")
    choose(checked, "No", "Continuar")
    continue_(checked, "Ver mi resultado")
    expect(page.get_by_text("Una vía puede corresponderle.")).to_be_visible()
    checked.verify()
    context.close()
    axe_context.close()
