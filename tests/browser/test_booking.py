"""The booking journey in chromium, axe-core on every page: screener → book → confirmation →
manage → move → cancel, in Spanish and English, and with JavaScript off."""

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, expect

from appointments.models import Appointment
from appointments.services.slots import generate_slots
from eligibility import seed
from notifications import sending
from notifications.models import Notification
from tests.appointments.conftest import OfficeFactory
from tests.browser.conftest import CheckedPage
from tests.browser.test_screener import Screener, in_creole

WORDS = {
    "es": {
        "start": "Comenzar",
        "book": "Pedir una cita",
        "office": "Elija una oficina",
        "day": "Elija un día",
        "time": "Elija un horario",
        "details": "Sus datos",
        "check": "Revise su reserva",
        "confirm": "Confirmar la cita",
        "appointment": "Su cita",
        "booked": "Su cita está reservada",
        "people": "¿Cuántas personas asistirán, incluida usted o usted mismo?",
        "keep": "No, mantener mi cita",
        "void": "CANCELADA",
        "born": "14 de junio de 1986",
        "change_office": "Cambiar de oficina",
        "manage": "Gestionar una cita",
        "find": "Buscar mi cita",
        "move": "Cambiar a otro horario",
        "new_day": "Elija un nuevo día",
        "move_confirm": "Cambiar la cita",
        "moved": "Su cita se cambió.",
        "cancel": "Cancelar la cita",
        "cancel_confirm": "Sí, cancelar la cita",
        "cancelled": "Esta cita está cancelada.",
        "delete": "Borrar mi información ahora",
        "delete_confirm": "Sí, borrar mi información",
        "deleted": "Su información está borrada",
        "continue": "Continuar",
        "passport": "Pasaporte",
        "yes": "Sí",
        "no": "No",
        "problem": "Hay un problema",
        "consent": "Para reservar una cita necesita aceptar el aviso de privacidad.",
    },
    "en": {
        "start": "Start now",
        "book": "Book an appointment",
        "office": "Choose an office",
        "day": "Choose a day",
        "time": "Choose a time",
        "details": "Your details",
        "check": "Check your booking",
        "confirm": "Confirm the appointment",
        "appointment": "Your appointment",
        "booked": "Your appointment is booked",
        "people": "How many people will attend, you included?",
        "keep": "No, keep my appointment",
        "void": "CANCELLED",
        "born": "June 14, 1986",
        "change_office": "Change office",
        "manage": "Manage an appointment",
        "find": "Find my appointment",
        "move": "Move to another time",
        "new_day": "Choose a new day",
        "move_confirm": "Move the appointment",
        "moved": "Your appointment was moved.",
        "cancel": "Cancel the appointment",
        "cancel_confirm": "Yes, cancel the appointment",
        "cancelled": "This appointment is cancelled.",
        "delete": "Delete my information now",
        "delete_confirm": "Yes, delete my information",
        "deleted": "Your information is deleted",
        "continue": "Continue",
        "passport": "Passport",
        "yes": "Yes",
        "no": "No",
        "problem": "There is a problem",
        "consent": "You need to accept the privacy notice to book an appointment.",
    },
}


@pytest.fixture(autouse=True)
def _sms_folder(settings: Any, tmp_path: Path) -> None:
    settings.SMS_BACKEND = "notifications.sms.FileBackend"
    settings.SMS_FILE_PATH = tmp_path / "sms"


@pytest.fixture(autouse=True)
def _office(transactional_db: None) -> None:
    seed.load(apps)
    office = OfficeFactory(
        name="Oficina de Movilidad Segura Guatemala",
        country="GT",
        city="Ciudad de Guatemala",
        time_zone="America/Guatemala",
        address_es="12 Calle 1-25, Zona 10",
        address_en="12 Calle 1-25, Zona 10",
        pathways=["refugee", "family-reunification", "temporary-work"],
        hours=[(day, datetime.time(8), datetime.time(10), 2) for day in range(7)],
        max_party_size=3,
        verify_phone=True,  # as offices are by default: the journey goes through the code sent by SMS
    )
    generate_slots(office=office)
    connections.close_all()


def answer_screener(checked: CheckedPage, language: str) -> None:
    """A Guatemalan in Guatemala with an approved petition from a US citizen relative."""
    page, screener = checked.page, Screener(checked, language)
    checked.goto(f"/{language}/")
    screener.follow(WORDS[language]["start"])
    page.locator("select#id_answer").select_option("GT")
    screener.submit()
    page.locator("select#id_answer").select_option("GT")
    screener.submit()
    for box, value in zip(("id_answer_0", "id_answer_1", "id_answer_2"), ("14", "6", "1986"), strict=True):
        page.locator(f"#{box}").fill(value)
    screener.submit()
    for answer in ("no", "citizen", "yes", "yes", "no"):
        page.locator(f"input[name=answer][value={answer}]").check()
        screener.submit()
    page.locator("form button[type=submit]").click()
    checked.check_accessibility()


class Booker:
    def __init__(self, checked: CheckedPage, language: str) -> None:
        self.checked, self.page, self.words, self.language = checked, checked.page, WORDS[language], language

    def heading_is(self, key: str) -> None:
        expect(self.page.get_by_role("heading", level=1)).to_have_text(self.words[key])

    def click(self, role: str, name: str | re.Pattern) -> None:
        self.page.get_by_role(role, name=name).first.click()
        self.checked.check_accessibility()

    def choose_day_and_time(self, *, last: bool = False) -> None:
        days = self.page.locator("a.choice-list__link")
        self.checked.screenshot(f"booking-days-{self.language}")
        (days.last if last else days.first).click()
        self.checked.check_accessibility()
        self.heading_is("time")
        self.checked.screenshot(f"booking-times-{self.language}")
        self.page.locator("input[name=slot]").first.check()
        self.click("button", self.words["continue"])

    def fill_details(self, language: str) -> None:
        page = self.page
        page.fill("#id_full_name", "María José Pérez López")
        page.get_by_label(self.words["passport"], exact=True).check()
        page.fill("#id_document_number", "G 1234 5678")
        page.select_option("#id_document_country", "GT")
        page.fill("#id_phone", "5123 4567")
        page.locator(f"input[name=language][value={language}]").check()
        page.fill("#id_companion_name_1", "José Pérez")
        page.fill("#id_companion_age_1", "7")
        page.locator("#id_consent").check()
        self.click("button", self.words["continue"])


def sent_code(sms_folder: Path) -> str:
    """The worker's part for the code's SMS (written by the file backend, as `make run` writes
    var/sms/), then the code as the person reads it there."""
    [message] = Notification.objects.filter(kind="phone_code", status="pending")
    assert sending.send(notification_id=message.pk) == "sent"
    [sms] = [path.read_text(encoding="utf-8") for path in sms_folder.glob("*.txt")]
    assert sms.startswith("To: +50251234567\n")
    return re.search(r"\b([0-9]{6})\b", sms)[1]


def enter_the_code(checked: CheckedPage, language: str, suffix: str) -> None:
    """The code page: nothing is booked yet; a wrong code is refused, the one from the SMS books."""
    page = checked.page
    with translation.override(language):
        heading, label = gettext("Enter the code we sent you"), gettext("Code")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    checked.check_accessibility()
    expect(page.get_by_text("+502 512 *** 67")).to_be_visible()
    assert not Appointment.objects.exists()
    code = sent_code(Path(settings.SMS_FILE_PATH))
    viewport = page.viewport_size
    page.set_viewport_size({"width": 360, "height": 640})
    checked.screenshot(f"booking-phone-code-360-{language}{suffix}")
    page.get_by_label(label, exact=True).fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name=WORDS[language]["confirm"]).click()
    checked.check_accessibility()
    expect(page.get_by_role("alert")).to_be_visible()
    checked.screenshot(f"booking-phone-code-error-360-{language}{suffix}")
    page.set_viewport_size(viewport)
    assert not Appointment.objects.exists()
    page.get_by_label(label, exact=True).fill(code)
    page.get_by_role("button", name=WORDS[language]["confirm"]).click()
    checked.check_accessibility()


def journey(checked: CheckedPage, language: str, *, new_visitor: Any, javascript: bool = True) -> None:
    page, words = checked.page, WORDS[language]
    booker = Booker(checked, language)
    suffix = "" if javascript else "-nojs"
    answer_screener(checked, language)
    booker.click("link", words["book"])
    # The only office in Guatemala, where the person lives: named on the day page, with a way back.
    booker.heading_is("day")
    expect(page.get_by_text("Oficina de Movilidad Segura Guatemala")).to_be_visible()
    booker.click("link", re.compile(words["change_office"]))
    booker.heading_is("office")
    booker.click("link", "Oficina de Movilidad Segura Guatemala")
    booker.heading_is("day")
    booker.choose_day_and_time()
    booker.heading_is("people")
    page.get_by_label("2", exact=True).check()
    booker.click("button", words["continue"])
    booker.heading_is("details")
    # Asked in the questions, not again: shown, with a way to change them.
    expect(page.get_by_text(words["born"])).to_be_visible()
    expect(page.locator("#id_date_of_birth_0")).to_have_count(0)
    expect(page.locator("input[name^=companion_name]")).to_have_count(1)
    checked.screenshot(f"booking-details-320-{language}{suffix}")
    booker.click("button", words["continue"])  # nothing filled in: the errors, checked by axe
    expect(page.get_by_role("alert")).to_contain_text(words["problem"])
    expect(page.get_by_role("alert")).to_contain_text(words["consent"])  # never ticked for them
    checked.screenshot(f"booking-details-errors-{language}{suffix}")
    booker.fill_details(language)
    booker.heading_is("check")
    booker.click("button", words["confirm"])
    enter_the_code(checked, language, suffix)
    booker.heading_is("booked")
    appointment = Appointment.objects.get()
    expect(page.locator("#ticket-reference")).to_have_text(appointment.display_reference)
    expect(page.locator(".ticket__qr svg")).to_be_visible()
    # The print button works only with JavaScript, so only then is it shown.
    expect(page.locator("[data-print]")).to_be_visible(visible=javascript)
    checked.screenshot(f"booking-confirmation-{language}{suffix}")

    # Manage from another phone: reference and date of birth.
    new_visitor()
    checked.goto(f"/{language}/manage/")
    page.fill("#id_reference", appointment.display_reference.lower())
    for box, value in zip(("0", "1", "2"), ("14", "6", "1986"), strict=True):
        page.fill(f"#id_date_of_birth_{box}", value)
    booker.click("button", words["find"])
    booker.heading_is("appointment")

    booker.click("link", words["move"])
    booker.heading_is("new_day")
    booker.choose_day_and_time(last=True)
    booker.click("button", words["move_confirm"])
    expect(page.get_by_text(words["moved"])).to_be_visible()
    moved = Appointment.objects.get()
    assert moved.slot_id != appointment.slot_id

    booker.click("link", words["cancel"])
    booker.click("link", words["keep"])  # changed their mind: nothing happens
    booker.heading_is("appointment")
    assert Appointment.objects.get().status == "booked"
    booker.click("link", words["cancel"])
    booker.click("button", words["cancel_confirm"])
    expect(page.get_by_text(words["cancelled"])).to_be_visible()
    expect(page.get_by_text(words["void"], exact=True)).to_be_visible()
    checked.screenshot(f"booking-cancelled-{language}{suffix}")
    assert Appointment.objects.get().status == "cancelled"

    # Cancelled: the person deletes their information at once.
    booker.click("link", words["delete"])
    booker.click("button", words["delete_confirm"])
    expect(page.get_by_role("heading", name=words["deleted"])).to_be_visible()
    checked.screenshot(f"booking-data-deleted-{language}{suffix}")
    erased = Appointment.objects.get()
    assert (erased.erased_at is not None, erased.full_name, erased.document_number) == (True, "", "")


with translation.override("ht"):
    WORDS["ht"] = in_creole(
        WORDS["en"],
        moved=gettext("Your appointment was moved. Your previous time is free for someone else."),
        cancelled=gettext("This appointment is cancelled. Its place is free for someone else."),
        born="14 jen 1986",
    )


@pytest.mark.parametrize("language", ["es", "en", "ht"])
def test_book_manage_move_and_cancel(checked_page: CheckedPage, language: str) -> None:
    checked_page.page.set_viewport_size({"width": 320, "height": 640})
    journey(checked_page, language, new_visitor=checked_page.page.context.clear_cookies)


def test_book_manage_move_and_cancel_without_javascript(browser: Browser, live_server: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="es-GT", viewport={"width": 320, "height": 640})
    axe_context = browser.new_context()
    checked = CheckedPage(context.new_page(), live_server.url, axe_page=axe_context.new_page())
    try:
        journey(checked, "es", new_visitor=context.clear_cookies, javascript=False)
        checked.verify()
    finally:
        context.close()
        axe_context.close()


def serve(html: str) -> Any:
    def fulfill(route: Any) -> None:
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    return fulfill


@pytest.mark.parametrize("language", ["es", "en", "ht"])
def test_the_pages_that_say_no_are_accessible(checked_page: CheckedPage, language: str) -> None:
    """The refusals a person may meet: no screening, a forged reference, an old link, the manage
    lookup with errors, and (rendered by Django, served at their own address) busy and duplicate."""
    page = checked_page.page
    page.set_viewport_size({"width": 320, "height": 640})
    for path in (f"/{language}/book/", f"/{language}/book/?screening=forged", f"/{language}/book/office/"):
        checked_page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
    checked_page.goto(f"/{language}/manage/link/not-a-token/")
    checked_page.goto(f"/{language}/manage/")
    page.locator("form button[type=submit]").click()
    checked_page.check_accessibility()
    expect(page.get_by_role("alert")).to_be_visible()

    request = RequestFactory().get(f"/{language}/book/check/")
    request.LANGUAGE_CODE = language
    request.session = {}
    request.csp_nonce = ""
    with translation.override(language):
        pages = {
            "busy": render_to_string("appointments/busy.html", {"message": "…"}, request=request),
            "duplicate": render_to_string("appointments/duplicate.html", {"message": "…"}, request=request),
        }
    for name, html in pages.items():
        address = f"{checked_page.base_url}/{language}/rendered/{name}/"
        page.route(address, serve(html))
        page.goto(address)
        checked_page.check_accessibility()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
