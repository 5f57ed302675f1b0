"""Exports too long to stream: written by a Celery task into a private file, with a page that shows
the progress and refreshes itself; downloadable only by the user who asked, while they still have
the permission (checked at the start, in the task and at the download), deleted after 24 hours."""

import csv
import datetime
import io
import os
import time
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from core.services import ROLE_OFFICE_STAFF, ROLE_SUPERVISOR
from reports.models import ExportFile, ExportLog
from reports.services import delete_expired_exports, make_export_file
from tests.reports.test_exports import URL, booked, office, period, signed_in, user_in

__all__ = ["office"]  # the fixture


@pytest.fixture
def export_dir(tmp_path, settings) -> Path:
    settings.EXPORT_DIR = tmp_path / "exports"
    settings.EXPORT_STREAM_MAX_ROWS = 2
    return settings.EXPORT_DIR


@pytest.fixture
def worker_env(export_dir) -> dict[str, str]:
    return {"EXPORT_DIR": str(export_dir)}


@pytest.fixture
def three(office, published):
    return [booked(office, published, n, document_number=f"F{n}00000", full_name=f"Persona {n}") for n in range(3)]


def ask(client, kind: str = "csv", **extra) -> ExportFile:
    response = client.post(URL, period(download=kind, **extra))
    assert response.status_code == 302, response.status_code
    made = ExportFile.objects.get()
    assert response["Location"] == f"/admin/report/exports/{made.pk}/"
    return made


def files_in(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.exists() else []


def rows_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.django_db(transaction=True)
def test_a_long_export_is_written_by_a_real_worker(three, export_dir, celery_worker) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    made = ask(client, delimiter=";")
    deadline = time.monotonic() + 60
    while made.status != "done":
        assert time.monotonic() < deadline, f"the worker left the export {made.status}"
        assert made.status in ("queued", "running"), made.failure
        made.refresh_from_db()
    page = client.get(f"/admin/report/exports/{made.pk}/")
    assert "Ready: 3 rows." in page.content.decode()
    assert "Refresh" not in page
    response = client.get(f"/admin/report/exports/{made.pk}/file/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{made.download_name}"'
    header, *lines = [line[0].split(";") for line in rows_of(response)]
    assert header[0] == "reference"
    assert "full name" not in header
    assert sorted(line[0] for line in lines) == sorted(p.display_reference for p in three)
    # The file is private: in the export folder, outside every folder a URL serves, for this
    # account only.
    path = export_dir / made.file_name
    assert path.is_file()
    assert (path.stat().st_mode & 0o777) == 0o600
    served = [
        Path(django_settings.STATIC_ROOT).resolve(),
        *[Path(d).resolve() for d in django_settings.STATICFILES_DIRS],
    ]
    assert not any(path.resolve().is_relative_to(folder) for folder in served)
    log = ExportLog.objects.get()
    assert (log.rows, log.format, made.log_id) == (3, "csv", log.pk)


@pytest.mark.django_db
def test_the_progress_page_refreshes_itself_until_the_file_is_ready(three, export_dir) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    made = ask(client)  # nobody runs the task: it waits for its turn
    page = client.get(f"/admin/report/exports/{made.pk}/")
    assert page["Refresh"] == "3"
    html = page.content.decode()
    assert "Waiting for its turn" in html
    assert 'href="?still=1"' in html
    still = client.get(f"/admin/report/exports/{made.pk}/", {"still": "1"})
    assert "Refresh" not in still
    assert "Show the progress now" in still.content.decode()
    # Not ready: the download link sends back to the page.
    assert client.get(f"/admin/report/exports/{made.pk}/file/")["Location"] == f"/admin/report/exports/{made.pk}/"
    ExportFile.objects.filter(pk=made.pk).update(status="running", rows_total=3, rows_done=1)
    assert "Written: 1 of 3 rows (33 %)." in client.get(f"/admin/report/exports/{made.pk}/").content.decode()
    done = make_export_file(export_id=made.pk)
    assert (done.status, done.rows_done, done.rows_total) == ("done", 3, 3)
    assert make_export_file(export_id=made.pk).status == "done"  # run again: nothing more


@pytest.mark.django_db
def test_an_xlsx_export_file(three, export_dir) -> None:
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    supervisor.user_permissions.add(Permission.objects.get(codename="export_personal_data"))
    client = signed_in(supervisor)
    made = make_export_file(export_id=ask(client, "xlsx", personal="on").pk)
    response = client.get(f"/admin/report/exports/{made.pk}/file/")
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert all(person.document_number in sheet for person in three)
    assert ExportLog.objects.get().personal_data is True


@pytest.mark.django_db
def test_only_the_user_who_asked_may_see_or_download_it(three, export_dir) -> None:
    made = make_export_file(export_id=ask(signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))).pk)
    other = signed_in(user_in(ROLE_SUPERVISOR, "other-supervisor"))
    assert other.get(f"/admin/report/exports/{made.pk}/").status_code == 404
    assert other.get(f"/admin/report/exports/{made.pk}/file/").status_code == 404
    staff = user_in(ROLE_OFFICE_STAFF, "staff")
    assert signed_in(staff).get(f"/admin/report/exports/{made.pk}/file/").status_code == 403


@pytest.mark.django_db
def test_a_supervisor_whose_permission_is_removed_cannot_download_a_file_made_before(three, export_dir) -> None:
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    client = signed_in(supervisor)
    made = make_export_file(export_id=ask(client).pk)
    assert client.get(f"/admin/report/exports/{made.pk}/file/").status_code == 200
    supervisor.groups.remove(Group.objects.get(name=ROLE_SUPERVISOR))
    assert client.get(f"/admin/report/exports/{made.pk}/file/").status_code == 403
    assert client.get(f"/admin/report/exports/{made.pk}/").status_code == 403


@pytest.mark.django_db
def test_personal_data_removed_meanwhile_blocks_that_file_only(three, export_dir) -> None:
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    personal = Permission.objects.get(codename="export_personal_data")
    supervisor.user_permissions.add(personal)
    client = signed_in(supervisor)
    with_data = make_export_file(export_id=ask(client, personal="on").pk)
    supervisor.user_permissions.remove(personal)
    client = signed_in(supervisor)  # a fresh request: permissions read again
    assert client.get(f"/admin/report/exports/{with_data.pk}/file/").status_code == 403
    page = client.get(f"/admin/report/exports/{with_data.pk}/").content.decode()
    assert "no longer has the permission to download this file" in page


@pytest.mark.django_db
def test_the_task_checks_the_permission_and_the_filters_again(three, export_dir, office) -> None:
    supervisor = user_in(ROLE_SUPERVISOR, "supervisor")
    client = signed_in(supervisor)
    made = ask(client)
    supervisor.groups.remove(Group.objects.get(name=ROLE_SUPERVISOR))
    failed = make_export_file(export_id=made.pk)
    assert (failed.status, failed.failure, failed.file_name) == ("failed", "permission", "")
    assert files_in(export_dir) == []
    # Asked for one office; the office is no longer among those the user may see.
    supervisor.groups.add(Group.objects.get(name=ROLE_SUPERVISOR))
    ExportFile.objects.all().delete()
    ExportLog.objects.all().delete()
    made = ask(signed_in(supervisor), offices=str(office.pk))
    ExportFile.objects.filter(pk=made.pk).update(form_data={**made.form_data, "offices": [office.pk + 1000]})
    assert make_export_file(export_id=made.pk).failure == "filters"
    page = signed_in(supervisor).get(f"/admin/report/exports/{made.pk}/").content.decode()
    assert "the filters no longer fit the offices you may see" in page


@pytest.mark.django_db
def test_files_are_deleted_after_24_hours(three, export_dir) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    made = make_export_file(export_id=ask(client).pk)
    left_over = export_dir / f"{made.pk}.csv.part"  # what a stopped worker would leave
    left_over.write_text("half")
    assert delete_expired_exports() == 0  # not yet
    assert (export_dir / made.file_name).is_file()
    later = timezone.now() + datetime.timedelta(hours=24, seconds=1)
    # Touched as late as the run itself, so only the export's own expiry can delete them.
    for path in files_in(export_dir):
        os.utime(path, (later.timestamp(), later.timestamp()))
    assert delete_expired_exports(now=later) == 1
    assert files_in(export_dir) == []
    made.refresh_from_db()
    assert (made.status, made.file_name) == ("expired", "")
    assert delete_expired_exports(now=later) == 0  # once
    page = client.get(f"/admin/report/exports/{made.pk}/")
    assert page.status_code == 410
    assert "This file was deleted 24 hours after it was asked for." in page.content.decode()
    assert client.get(f"/admin/report/exports/{made.pk}/file/").status_code == 302
    assert ExportLog.objects.count() == 1  # the log stays


@pytest.mark.django_db
def test_an_export_under_the_threshold_still_streams(office, published, export_dir) -> None:
    booked(office, published)
    response = signed_in(user_in(ROLE_SUPERVISOR, "supervisor")).post(URL, period(download="csv"))
    assert response.status_code == 200
    assert response.streaming
    assert ExportFile.objects.count() == 0
    assert files_in(export_dir) == []


@pytest.mark.django_db
def test_three_exports_in_progress_at_most_per_user(three, export_dir) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    for _n in range(3):
        assert client.post(URL, period(download="csv")).status_code == 302
    response = client.post(URL, period(download="xlsx"))
    assert response.status_code == 429
    assert "You already have 3 exports being written." in response.content.decode()
    assert ExportFile.objects.count() == ExportLog.objects.count() == 3
    # One is ready: another may be asked for.
    make_export_file(export_id=ExportFile.objects.first().pk)
    assert client.post(URL, period(download="xlsx")).status_code == 302


@pytest.mark.django_db
def test_a_file_left_without_its_export_is_deleted_after_24_hours(export_dir) -> None:
    export_dir.mkdir(parents=True)
    orphan = export_dir / "0b6c1f9e-0000-4000-8000-000000000000.csv"
    orphan.write_text("left behind")
    fresh = export_dir / "0b6c1f9e-0000-4000-8000-000000000001.csv"
    fresh.write_text("made just now")
    # Not named as this service names its files: never deleted (the folder may be shared).
    someone_else = export_dir / "notes.csv"
    someone_else.write_text("not ours")
    day_old = time.time() - 24 * 3600 - 60
    for path in (orphan, someone_else):
        os.utime(path, (day_old, day_old))
    delete_expired_exports()
    assert sorted(files_in(export_dir)) == sorted([fresh, someone_else])
    assert make_export_file(export_id="0b6c1f9e-0000-4000-8000-000000000002") is None  # no such export


@pytest.mark.django_db
def test_an_export_never_handed_to_the_worker_is_handed_over_again(three, export_dir, monkeypatch) -> None:
    from reports import services

    handed: list[str] = []
    monkeypatch.setattr(services, "_enqueue", lambda export_id: handed.append(str(export_id)))
    made = ask(signed_in(user_in(ROLE_SUPERVISOR, "supervisor")))
    delete_expired_exports()
    assert handed == []  # just asked: the worker may be about to start it
    delete_expired_exports(now=timezone.now() + datetime.timedelta(minutes=6))
    assert handed == [str(made.pk)]


@pytest.mark.django_db
def test_a_file_of_an_office_the_user_no_longer_sees_cannot_be_downloaded(three, export_dir, office) -> None:
    """A member of staff given the report permission for their office, then moved elsewhere."""
    lead = user_in(ROLE_OFFICE_STAFF, "office-lead")
    lead.user_permissions.add(Permission.objects.get(codename="view_reports"))
    office.staff.add(lead)
    client = signed_in(lead)
    made = make_export_file(export_id=ask(client).pk)
    assert made.office_ids == [office.pk]
    assert client.get(f"/admin/report/exports/{made.pk}/file/").status_code == 200
    office.staff.remove(lead)
    assert client.get(f"/admin/report/exports/{made.pk}/file/").status_code == 403
    assert "no longer sees every office it covers" in client.get(f"/admin/report/exports/{made.pk}/").content.decode()


@pytest.mark.django_db
def test_an_export_waiting_too_long_says_so(three, export_dir) -> None:
    client = signed_in(user_in(ROLE_SUPERVISOR, "supervisor"))
    made = ask(client)
    ExportFile.objects.filter(pk=made.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=6))
    html = client.get(f"/admin/report/exports/{made.pk}/").content.decode()
    assert "Still waiting: the background worker has not started it." in html
