"""The start page in a real browser: Spanish first, the language switcher, no outside requests."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from tests.browser.conftest import CheckedPage


def test_start_page_in_spanish_switch_to_english_and_back(checked_page: CheckedPage) -> None:
    page = checked_page.page
    checked_page.goto("/")
    expect(page).to_have_url(re.compile(r"/es/$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Averigüe qué vías legales pueden corresponderle")
    expect(page.get_by_role("contentinfo")).to_contain_text("Este servicio es gratuito.")
    expect(page.get_by_role("link", name="Comenzar")).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/en/$"))
    checked_page.check_accessibility()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find out which legal pathways may fit you")
    expect(page.get_by_role("contentinfo")).to_contain_text("This service is free.")

    page.get_by_role("link", name="Español").click()
    expect(page).to_have_url(re.compile(r"/es/$"))
    checked_page.check_accessibility()
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_language_switch_keeps_the_current_page(checked_page: CheckedPage) -> None:
    page = checked_page.page
    checked_page.goto("/es/privacy/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aviso de privacidad")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/en/privacy/$"))
    checked_page.check_accessibility()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy notice")


def test_skip_link_moves_focus_to_the_main_content(checked_page: CheckedPage) -> None:
    page = checked_page.page
    page.set_viewport_size({"width": 360, "height": 740})
    checked_page.goto("/es/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Saltar al contenido principal")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    checked_page.screenshot("start-page-360-es")


def test_pages_fit_a_small_screen(checked_page: CheckedPage) -> None:
    checked_page.page.set_viewport_size({"width": 320, "height": 640})
    for path in ("/es/", "/es/privacy/", "/es/contact/", "/es/no-such-page/"):
        checked_page.goto(path)


@pytest.mark.parametrize("language", ["es", "en", "ht"])
def test_the_start_button_and_the_way_to_an_appointment_are_on_the_first_screen(
    checked_page: CheckedPage, language: str
) -> None:
    page = checked_page.page
    page.set_viewport_size({"width": 320, "height": 640})
    checked_page.goto(f"/{language}/")
    with translation.override(language):
        start, manage = gettext("Start now"), gettext("Find, move or cancel your appointment")
        official = gettext(
            "Official service run by %(operator)s. The only official address is <strong>%(address)s</strong>."
        ) % {"operator": gettext("IOM and UNHCR"), "address": ""}
    expect(page.get_by_role("link", name=start)).to_be_in_viewport()
    expect(page.get_by_role("link", name=manage)).to_be_visible()
    expect(page.get_by_text(official.split("<strong>")[0].strip())).to_be_in_viewport()
    checked_page.screenshot(f"start-page-320-{language}")
    page.get_by_role("link", name=manage).click()
    checked_page.check_accessibility()
    expect(page).to_have_url(re.compile(rf"/{language}/manage/$"))
