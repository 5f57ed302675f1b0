"""A supervisor's report in chromium at 1280 px, axe-core on every page: sign in, open the report,
filter, read the chart, its table and the funnel, download the CSV and the XLSX and open them; then
an export too long to stream, followed on its progress page and downloaded when ready."""

import csv
import datetime
import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import Browser, expect

from core.services import ROLE_SUPERVISOR, ensure_roles
from reports.models import ExportFile
from reports.services import make_export_file
from tests.browser.conftest import CheckedPage, give_second_factor
from tests.conftest import authenticator_of
from tests.desk.conftest import book_today, make_office

PASSWORD = "report-morning-2026"


@pytest.fixture
def history(transactional_db, published):
    office = make_office("Oficina del informe")
    people = [book_today(office, published, n, full_name=name) for n, name in enumerate(("Ana Uno", "Beto Dos"))]
    ensure_roles()
    user = get_user_model().objects.create_user(username="supervisora", password=PASSWORD, is_staff=True)
    authenticator_of(user)
    user.groups.add(Group.objects.get(name=ROLE_SUPERVISOR))
    return office, people


def test_a_supervisor_reads_the_report_and_exports(browser: Browser, live_server, history, settings, tmp_path):
    office, people = history
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    report = CheckedPage(context.new_page(), live_server.url)
    report.goto("/admin/login/?next=/admin/")
    report.page.get_by_label("Username").fill("supervisora")
    report.page.get_by_label("Password").fill(PASSWORD)
    report.page.get_by_role("button", name="Log in").click()
    give_second_factor(report, "supervisora")
    report.check_accessibility()

    report.page.get_by_role("link", name="Reports").click()
    report.check_accessibility()
    expect(report.page.get_by_role("heading", name="Figures")).to_be_visible()
    today = office.local_today(timezone.now())
    report.page.get_by_label("From", exact=True).fill(str(today - datetime.timedelta(days=1)))
    report.page.get_by_label("To", exact=True).fill(str(today))
    report.page.get_by_label(office.name).check()
    report.page.get_by_label("Nationality").select_option("VE")
    report.page.get_by_role("button", name="Show the figures").click()
    report.check_accessibility()
    assert "date_from=" in report.page.url  # the figures shown are a link that can be kept
    expect(report.page.get_by_role("status")).to_have_text("2 appointments match.")
    chart = report.page.get_by_role("img", name="Appointments per day")
    expect(chart).to_be_visible()
    expect(report.page.locator(".report-chart rect")).to_have_count(4)  # two days: booked and attended
    day_table = report.page.get_by_role("table", name="Appointments per day")
    expect(day_table.get_by_role("row", name=str(today))).to_contain_text("2")
    funnel = report.page.locator(".report-funnel")
    expect(funnel.get_by_role("row", name="Appointments booked")).to_contain_text("2")
    expect(funnel.get_by_role("row", name="Screeners started")).to_contain_text("–")  # nobody started here
    report.screenshot("report-1280-en")
    report.page.set_viewport_size({"width": 360, "height": 800})
    report.screenshot("report-360-en")
    report.page.set_viewport_size({"width": 1280, "height": 900})

    with report.page.expect_download() as download:
        report.page.get_by_role("button", name="Download CSV").click()
    text = download.value.path().read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0][:2] == ["reference", "office"]
    assert sorted(row[0] for row in table[1:]) == sorted(person.display_reference for person in people)
    assert "full name" not in table[0]

    with report.page.expect_download() as download:
        report.page.get_by_role("button", name="Download XLSX").click()
    with zipfile.ZipFile(download.value.path()) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode("utf-8")
    for person in people:
        assert person.display_reference in sheet

    # Past the threshold, the list is written in the background: its page shows the progress.
    settings.EXPORT_STREAM_MAX_ROWS = 1
    settings.EXPORT_DIR = tmp_path / "exports"
    report.page.get_by_role("button", name="Download CSV").click()
    expect(report.page.get_by_role("status")).to_have_text(
        "Waiting for its turn: the file will be written in the background."
    )
    report.page.get_by_role("link", name="Stop loading it again").click()
    report.check_accessibility()
    made = ExportFile.objects.get()
    make_export_file(export_id=made.pk)  # what the worker does
    report.page.get_by_role("link", name="Show the progress now").click()
    expect(report.page.get_by_role("status")).to_have_text("Ready: 2 rows.")
    report.check_accessibility()
    report.screenshot("report-export-file-1280-en")
    with report.page.expect_download() as download:
        report.page.get_by_role("link", name=f"Download {made.download_name}").click()
    text = download.value.path().read_bytes().decode("utf-8")
    assert sorted(row[0] for row in list(csv.reader(io.StringIO(text[1:])))[1:]) == sorted(
        person.display_reference for person in people
    )
    context.close()
