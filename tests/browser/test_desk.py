"""A staff morning at the desk in chromium at 1280 px, axe-core on every staff page: sign in, open
today's queue, scan a reference, check in, call to a counter, the calling screen shows the ticket,
mark served, another one a no-show."""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, expect

from appointments.models import Appointment
from core.services import ROLE_OFFICE_STAFF, ensure_roles
from desk.models import DeskSettings
from tests.browser.conftest import CheckedPage, give_second_factor
from tests.conftest import authenticator_of
from tests.desk.conftest import book_today, make_office

PASSWORD = "desk-morning-2026"


@pytest.fixture
def morning(transactional_db, published):
    office = make_office("Oficina de la mañana")
    people = [book_today(office, published, n, full_name=name) for n, name in enumerate(("Ana Uno", "Beto Dos"))]
    ensure_roles()
    user = get_user_model().objects.create_user(username="mostrador", password=PASSWORD, is_staff=True)
    authenticator_of(user)
    user.groups.add(Group.objects.get(name=ROLE_OFFICE_STAFF))
    office.staff.add(user)
    return office, people


def test_a_staff_morning(browser: Browser, live_server, morning):
    office, (ana, beto) = morning
    context = browser.new_context(locale="es-GT", viewport={"width": 1280, "height": 900})
    desk = CheckedPage(context.new_page(), live_server.url)
    desk.goto("/admin/login/?next=/admin/")
    desk.page.get_by_label("Nombre de usuario").fill("mostrador")
    desk.page.get_by_label("Contraseña").fill(PASSWORD)
    desk.page.get_by_role("button", name="Iniciar sesión").click()
    give_second_factor(desk, "mostrador")
    desk.check_accessibility()

    desk.page.get_by_role("link", name="Turnos").click()
    desk.check_accessibility()
    expect(desk.page.get_by_role("heading", level=1)).to_contain_text(office.name)
    expect(desk.page.get_by_text("Ana Uno")).to_be_visible()
    desk.screenshot("desk-queue-1280")

    # The scan field has the focus: the scanner types the QR code's reference and presses Enter.
    desk.page.keyboard.type(ana.reference)
    with desk.page.expect_navigation():
        desk.page.keyboard.press("Enter")
    desk.check_accessibility()
    found = desk.page.locator(".desk-found")
    expect(found).to_contain_text(ana.display_reference)
    # One appointment to check in: its button comes right after the scan field, which keeps the
    # focus (the scanner's next Enter searches again). Tab, Enter checks the person in.
    expect(desk.page.get_by_label(re.compile("Escanee un código QR"))).to_be_focused()
    desk.page.keyboard.press("Tab")
    expect(
        desk.page.get_by_role("button", name=f"Registrar la llegada de {ana.display_reference}").first
    ).to_be_focused()
    with desk.page.expect_navigation():
        desk.page.keyboard.press("Enter")
    desk.check_accessibility()
    expect(desk.page.get_by_text("Llegada registrada: turno A-001.")).to_be_visible()

    desk.page.get_by_label("Su ventanilla", exact=True).select_option(label="Ventanilla 2")
    desk.page.get_by_role("button", name="Llamar al siguiente turno").click()
    desk.check_accessibility()
    expect(desk.page.get_by_text("Turno A-001 llamado a la ventanilla 2.")).to_be_visible()
    desk.screenshot("desk-called-1280")

    # The waiting-room screen, in a browser of its own with no sign-in.
    key = DeskSettings.objects.get(office=office).screen_key
    tv_context = browser.new_context(viewport={"width": 1280, "height": 720})
    tv = CheckedPage(tv_context.new_page(), live_server.url)
    tv.goto(f"/screen/{key}/")
    expect(tv.page.locator(".screen__ticket")).to_have_text("A-001")
    expect(tv.page.locator(".screen__counter")).to_have_text("2")
    assert "Ana Uno" not in tv.page.content()
    tv.screenshot("desk-screen-1280")
    # Called again to another counter: the screen shows it by itself, nobody touches it.
    desk.page.get_by_label("Su ventanilla", exact=True).select_option(label="Ventanilla 3")
    desk.page.get_by_role("button", name="Llamar A-001 a su ventanilla").click()
    desk.check_accessibility()
    expect(tv.page.locator(".screen__counter")).to_have_text("3", timeout=15_000)
    tv.page.set_viewport_size({"width": 360, "height": 640})
    tv.check_accessibility()
    tv.screenshot("desk-screen-360")

    desk.page.get_by_role("button", name="Marcar A-001 como atendido").click()
    desk.check_accessibility()
    expect(desk.page.get_by_text("Turno A-001 atendido.")).to_be_visible()

    # Beto never came: his time (early this morning at the office) has passed, so a no-show.
    assert beto.slot.starts_at <= datetime.datetime.now(datetime.UTC)
    desk.page.get_by_role("button", name=f"Marcar {beto.display_reference} como «no se presentó»").click()
    desk.check_accessibility()
    expect(desk.page.get_by_text(f"{beto.display_reference} marcada como «no se presentó».")).to_be_visible()
    statuses = dict(Appointment.objects.values_list("full_name", "status"))
    assert statuses == {"Ana Uno": "served", "Beto Dos": "no_show"}
    desk.screenshot("desk-after-1280")

    # The appointment's page in the admin, with its history of who did what.
    desk.page.get_by_role("link", name=ana.display_reference).click()
    desk.check_accessibility()
    expect(
        desk.page.get_by_text("Marcada como no presentada").or_(desk.page.get_by_text("Atendida")).first
    ).to_be_visible()
    desk.screenshot("desk-appointment-1280")
    desk.goto(f"/admin/desk/ticket/queue/{office.pk}/")

    # The calling screen's page, the ticket slip and the walk-in page (off at this office).
    desk.page.get_by_role("link", name="Pantalla de llamados").click()
    desk.check_accessibility()
    expect(desk.page.get_by_label("Enlace de la pantalla de llamados")).to_have_value(re.compile(f"/screen/{key}/$"))
    desk.goto(f"/admin/desk/ticket/queue/{office.pk}/")
    desk.page.get_by_role("link", name="Imprimir el turno A-001").click()
    desk.check_accessibility()
    expect(desk.page.get_by_role("heading", name="A-001")).to_be_visible()
    assert "Ana Uno" not in desk.page.content()
    desk.page.set_viewport_size({"width": 360, "height": 640})
    desk.screenshot("desk-slip-360")
    desk.page.set_viewport_size({"width": 1280, "height": 900})
    desk.goto(f"/admin/desk/ticket/queue/{office.pk}/walk-in/")
    expect(desk.page.get_by_text("Esta oficina atiende solo con cita")).to_be_visible()
    desk.goto(f"/admin/desk/ticket/queue/{office.pk}/")

    # The day list and a ticket slip, for printing.
    desk.page.get_by_role("link", name="Imprimir la lista del día").click()
    desk.check_accessibility()
    expect(desk.page.get_by_text("Ana Uno")).to_be_visible()
    desk.verify()
    tv.verify()
    context.close()
    tv_context.close()
