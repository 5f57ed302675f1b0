"""The appointment export: who may use it, what the file holds (and never holds by default), cells
that cannot run as formulas, and the export log."""

import csv
import datetime
import io
import zipfile
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import timezone, translation

from appointments.models import Appointment
from appointments.services.slots import generate_slots
from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR, ensure_roles
from reports.exports import FORMULA_STARTS, csv_lines, rows, safe_cell
from reports.models import ExportLog
from tests.appointments.conftest import OfficeFactory, details, make_screening
from tests.appointments.test_booking import book
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
URL = "/admin/report/"


@pytest.fixture
def office(published):
    office = OfficeFactory(
        name="Oficina Bogotá", hours=[(day, datetime.time(8), datetime.time(12), 2) for day in range(7)]
    )
    generate_slots(office=office)
    return office


def booked(office, published, nth: int = 0, **overrides) -> Appointment:
    """Booked into the nth time from the start of the day three days on (the office's day): the
    first few are on that one day whatever the hour (from two days on, at 11:05 in Bogotá the
    first was the day's last time and the next one the following day's)."""
    day = office.local_today(timezone.now()) + datetime.timedelta(days=3)
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=office.zone)
    slot = office.slots.filter(starts_at__gte=start).order_by("starts_at")[nth]
    return book(make_screening(published), slot, details=details(**overrides), now=timezone.now())


def user_in(role: str, username: str) -> User:
    ensure_roles()
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})  # the tests read the English headers
    sign_in(client, user)
    return client


def period(**extra: str) -> dict[str, str]:
    today = timezone.localdate()
    return {"date_from": str(today), "date_to": str(today + datetime.timedelta(days=20)), **extra}


def read_csv(response, delimiter: str = ",") -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff"), "a BOM, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(body[1:]), delimiter=delimiter))


# Written out, not read from the code: dropping one from FORMULA_STARTS fails here.
FORMULA_CHARACTERS = ["=", "+", "-", "@", "\t", "\r"]


def test_every_formula_start_the_issue_names_is_covered() -> None:
    assert set(FORMULA_CHARACTERS) <= set(FORMULA_STARTS)


@pytest.mark.parametrize("start", FORMULA_CHARACTERS)
def test_a_cell_that_would_run_as_a_formula_is_made_inert(start: str) -> None:
    value = f'{start}HYPERLINK("http://evil.example")'
    assert safe_cell(value) == "'" + value
    assert safe_cell("María") == "María"
    assert safe_cell(3) == 3


def test_a_hostile_name_reaches_the_file_inert(office, published) -> None:
    booked(office, published, full_name="=cmd|' /C calc'!A0", document_number="X1234567")
    with translation.override("en"):
        table = list(rows(Appointment.objects.all(), personal=True))
    assert table[1][table[0].index("full name")] == "'=cmd|' /C calc'!A0"


def test_office_staff_without_the_permission_get_403(office) -> None:
    staff = user_in(ROLE_OFFICE_STAFF, "staff")
    office.staff.add(staff)
    assert signed_in(staff).get(URL).status_code == 403
    assert signed_in(staff).post(URL, {**period(), "download": "csv"}).status_code == 403
    assert ExportLog.objects.count() == 0


def test_an_export_needs_a_post_with_the_csrf_token(office, published) -> None:
    """A link elsewhere cannot make a signed-in supervisor export (and be logged as exporting)."""
    booked(office, published)
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    page = signed_in(supervisor).get(URL, period(download="csv"))
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    guarded = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    sign_in(guarded, supervisor)
    assert guarded.post(URL, period(download="csv")).status_code == 403
    assert guarded.head(URL, period(download="csv")).status_code == 200
    assert ExportLog.objects.count() == 0
    # The form's "show" comes back as a link with the filters (and no token in it).
    shown = signed_in(supervisor).post(URL, period(delimiter=";"))
    assert shown.status_code == 302
    assert shown["Location"].startswith(f"{URL}?date_from=")
    assert "csrf" not in shown["Location"]


def test_a_supervisor_exports_without_personal_data_by_default(office, published) -> None:
    appointment = booked(office, published)
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    page = client.get(URL, period())
    assert page.status_code == 200
    assert "One appointment matches." in page.content.decode()
    response = client.post(URL, period(download="csv", delimiter=";", personal="on"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="citas-')
    header, row = read_csv(response, delimiter=";")
    assert not {"full name", "document number", "mobile phone", "e-mail"} & set(header)
    assert row[header.index("reference")] == appointment.display_reference
    assert appointment.document_number not in ";".join(row)
    log = ExportLog.objects.get()
    assert (log.username, log.rows, log.personal_data, log.format) == ("supervisor", 1, False, "csv")
    assert log.filters["statuses"] == []


def test_personal_data_needs_its_own_permission(office, published) -> None:
    appointment = booked(office, published)
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    supervisor.user_permissions.add(Permission.objects.get(codename="export_personal_data"))
    response = signed_in(supervisor).post(URL, period(download="csv", personal="on"))
    header, row = read_csv(response)
    assert row[header.index("document number")] == appointment.document_number
    # A leading + would run as a formula: the apostrophe keeps it text.
    assert row[header.index("mobile phone")] == "'+573001234567"
    assert ExportLog.objects.get().personal_data is True


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"date_from": "2026-13-01", "date_to": "2026-12-01"}, "Enter the first day as a date"),
        ({"date_from": "2026-12-10", "date_to": "2026-12-01"}, "The last day cannot be before the first day."),
        ({"date_from": "2020-01-01", "date_to": "2026-12-01"}, "Choose a period of at most 400 days."),
        ({**period(), "offices": "999999"}, "Choose offices from the list."),
        ({**period(), "offices": "²"}, "Choose offices from the list."),
        ({**period(), "statuses": "lost"}, "Choose statuses from the list."),
        ({**period(), "pathway": "guaranteed-visa"}, "Choose a pathway from the list."),
        ({**period(), "nationality": "ZZ"}, "Choose a nationality from the list."),
        ({**period(), "nationality": "ｖｅ"}, "Choose a nationality from the list."),
        ({**period(), "host_country": "MX"}, "Choose a country from the list."),  # no office there
        ({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "Choose a day between 2020-01-01 and"),
        ({"date_from": "0001-01-01", "date_to": "2026-12-01"}, "Choose a day between 2020-01-01 and"),
    ],
)
def test_bad_filters_are_a_clear_400(office, given, message) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    response = client.post(URL, {**given, "download": "csv"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ExportLog.objects.count() == 0


def test_the_log_is_read_only_for_everyone(office, published, admin_client) -> None:
    booked(office, published)
    signed_in(user_in(ROLE_SUPERVISOR, "supervisor")).post(URL, period(download="csv"))
    log = ExportLog.objects.get()
    assert admin_client.get("/admin/reports/exportlog/").status_code == 200
    assert admin_client.get("/admin/reports/exportlog/add/").status_code == 403
    admin_client.post(f"/admin/reports/exportlog/{log.pk}/change/", {"rows": "0"})
    admin_client.post(f"/admin/reports/exportlog/{log.pk}/delete/", {"post": "yes"})
    assert ExportLog.objects.get().rows == 1


def test_csv_lines_stream_one_line_at_a_time() -> None:
    lines = csv_lines(iter([["a", "b"], ["c;d", "e"]]), delimiter=";")
    assert next(lines) == "\ufeff"
    assert next(lines) == "a;b\r\n"
    assert next(lines) == '"c;d";e\r\n'


def xlsx_cells(response) -> list[list[tuple[str, str]]]:
    """The first sheet's rows as (cell type, text) pairs, read straight from the file's XML."""
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as workbook:
        sheet = ElementTree.fromstring(workbook.read("xl/worksheets/sheet1.xml"))  # noqa: S314 - made by this test
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    table = []
    for row in sheet.iterfind(".//m:sheetData/m:row", ns):
        cells = []
        for cell in row.iterfind("m:c", ns):
            assert cell.find("m:f", ns) is None, "no formula anywhere"
            text = "".join(cell.itertext())
            cells.append((cell.get("t") or "n", text))
        table.append(cells)
    return table


@pytest.mark.parametrize("start", FORMULA_CHARACTERS)
def test_an_xlsx_export_is_a_real_workbook_whose_texts_never_run(office, published, start) -> None:
    appointment = booked(office, published, full_name=f"{start}1+1 María")
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    supervisor.user_permissions.add(Permission.objects.get(codename="export_personal_data"))
    response = signed_in(supervisor).post(URL, period(download="xlsx", personal="on"))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="citas-')
    header, row = xlsx_cells(response)
    names = [text for _kind, text in header]
    # The booking keeps a name as typed, its spaces tidied; what counts is that it stays text.
    assert appointment.full_name.endswith("1+1 María")
    assert names[:3] == ["reference", "office", "day"]
    kind, text = row[names.index("full name")]
    assert (kind, text) == ("inlineStr", appointment.full_name), "a text cell, not a formula"
    assert row[names.index("people attending")] == ("n", "1")
    log = ExportLog.objects.get()
    assert (log.format, log.rows, log.personal_data) == ("xlsx", 1, True)
