"""What the reports app writes besides the export log and the export files: the anonymous daily
statistics, counted by `reports.stats.count` and marked as counted day by day."""

import datetime
import logging
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone, translation

from appointments.models import Office, Slot
from reports.models import CountedDay, DailyStat, ExportFile, ExportLog
from reports.stats import Key, Tally, count

logger = logging.getLogger(__name__)

# Days before yesterday are counted again: a no-show is marked, a call finished, after the day.
REFRESH_DAYS = 7
# Older days never counted (history from before the statistics, a beat that was stopped): this many
# of them per office and run, the oldest first, until none is left.
BACKFILL_DAYS = 31

FIELDS = ("booked", "cancelled", "attended", "served", "no_show", "moved", "lead_seconds", "wait_seconds", "waits")


def refresh_daily_stats(*, office: Office, days: list[datetime.date]) -> int:
    """Count these local days of one office again and replace their rows (running it twice gives
    the same rows); each day is then marked as counted. Returns how many rows the days have."""
    tallies = count([office], {office.pk: days})
    now = timezone.now()
    with transaction.atomic():
        DailyStat.objects.filter(office=office, day__in=days).delete()
        DailyStat.objects.bulk_create(stat_row(key, tally, now) for key, tally in tallies.items())
        CountedDay.objects.filter(office=office, day__in=days).delete()
        CountedDay.objects.bulk_create(CountedDay(office=office, day=day, counted_at=now) for day in days)
    return len(tallies)


def stat_row(key: Key, tally: Tally, now: datetime.datetime) -> DailyStat:
    office, day, pathway, nationality, host = key
    return DailyStat(
        office_id=office,
        day=day,
        pathway=pathway,
        nationality=nationality,
        host_country=host,
        lead_hours={str(k): v for k, v in tally.lead_hours.items()},
        wait_minutes={str(k): v for k, v in tally.wait_minutes.items()},
        refreshed_at=now,
        **{name: getattr(tally, name) for name in FIELDS},
    )


def tally_of(stat: DailyStat) -> Tally:
    """A stored row back as a tally, to add to the ones counted from the appointments."""
    return Tally(
        lead_hours=Counter({int(k): v for k, v in stat.lead_hours.items()}),
        wait_minutes=Counter({int(k): v for k, v in stat.wait_minutes.items()}),
        **{name: getattr(stat, name) for name in FIELDS},
    )


def refresh_recent_daily_stats(*, now: datetime.datetime | None = None) -> int:
    """The hourly run: every office's last REFRESH_DAYS local days up to yesterday, and up to
    BACKFILL_DAYS older days with appointments that were never counted."""
    now = now or timezone.now()
    refreshed = 0
    first_slots = dict(Slot.objects.order_by().values_list("office").annotate(first=Min("starts_at")))
    for office in Office.objects.all():
        yesterday = office.local_today(now) - datetime.timedelta(days=1)
        days = [yesterday - datetime.timedelta(days=back) for back in range(REFRESH_DAYS)]
        first = first_slots.get(office.pk)
        if first is not None:
            oldest = first.astimezone(office.zone).date()
            counted = set(CountedDay.objects.filter(office=office, day__gte=oldest).values_list("day", flat=True))
            older = (oldest + datetime.timedelta(days=n) for n in range((days[-1] - oldest).days))
            days += [day for day in older if day not in counted][:BACKFILL_DAYS]
        refreshed += refresh_daily_stats(office=office, days=days)
    return refreshed


# ---------------------------------------------------------------------------------------------
# Export files: exports past EXPORT_STREAM_MAX_ROWS, written by a Celery task.
# ---------------------------------------------------------------------------------------------
VIEW_REPORTS = "reports.view_reports"
EXPORT_PERSONAL_DATA = "reports.export_personal_data"
EXPIRES_AFTER = datetime.timedelta(hours=24)
# The progress is written every this many rows (one UPDATE each).
PROGRESS_EVERY = 5000
# The names this service gives its files: nothing else in the folder is ever deleted.
EXPORT_FILE_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(csv|xlsx)(\.part)?")
STUCK_AFTER = datetime.timedelta(minutes=5)
# Export files one user may have waiting or being written at once: a worker is not a toy.
MAX_EXPORTS_IN_PROGRESS = 3


class Failure:
    """Why an export file was not made (stored as a code, shown translated)."""

    PERMISSION = "permission"
    FILTERS = "filters"
    ERROR = "error"


def may_export(user: Any, *, personal: bool) -> bool:
    """May this account export now: active staff with the report permission, and the personal data
    permission for an export with personal data. Asked when the export starts, in the task and at
    the download, from the database each time."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and user.has_perm(VIEW_REPORTS)
        and (not personal or user.has_perm(EXPORT_PERSONAL_DATA))
    )


def may_download(user: Any, export: ExportFile) -> bool:
    """May this account download this file now: theirs, the permissions still held, and every
    office it covers still among the offices they may see."""
    from appointments.selectors import offices_of

    if export.user_id != user.pk or not may_export(user, personal=export.personal_data):
        return False
    return set(export.office_ids) <= set(offices_of(user).values_list("pk", flat=True))


def export_dir() -> Path:
    """The private folder of export files: readable by this service only, served by no URL."""
    folder = Path(settings.EXPORT_DIR)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def start_export_file(
    *, log: ExportLog, user: Any, form_data: dict[str, Any], language: str, download_name: str
) -> ExportFile:
    """Record the export and hand it to the worker after commit (if the broker is down it stays
    queued and the page says so)."""
    export = ExportFile.objects.create(
        log=log,
        user=user,
        format=log.format,
        form_data=form_data,
        personal_data=log.personal_data,
        language=language,
        rows_total=log.rows,
        download_name=download_name,
        expires_at=timezone.now() + EXPIRES_AFTER,
    )
    transaction.on_commit(partial(_enqueue, export.pk))
    return export


def _enqueue(export_id: uuid.UUID) -> None:
    from reports.tasks import make_export_file  # the task module imports this one

    try:
        make_export_file.delay(str(export_id))
    except Exception as exc:  # noqa: BLE001 - any broker failure: the export stays queued, visible on its page
        logger.warning("export left queued export=%s error=%s", export_id, type(exc).__name__)


def _fail(export: ExportFile, failure: str) -> ExportFile:
    ExportFile.objects.filter(pk=export.pk).update(
        status=ExportFile.Status.FAILED, failure=failure, finished_at=timezone.now()
    )
    export.refresh_from_db()
    return export


def exports_in_progress(user: Any) -> int:
    return ExportFile.objects.filter(
        user=user, status__in=[ExportFile.Status.QUEUED, ExportFile.Status.RUNNING], expires_at__gt=timezone.now()
    ).count()


def make_export_file(*, export_id: uuid.UUID | str) -> ExportFile | None:
    """Write one export file: the permission and the filters are checked again as the user has
    them now; the rows are written to a private file with the progress saved as it goes. Running it
    again for a file already made does nothing."""
    from reports.exports import csv_lines, rows, write_xlsx
    from reports.forms import ReportFilterForm

    export = ExportFile.objects.select_related("user").filter(pk=export_id).first()
    if export is None:
        return None  # its user was deleted meanwhile, and the export with them
    if export.status not in (ExportFile.Status.QUEUED, ExportFile.Status.RUNNING):
        return export
    user = export.user
    if not may_export(user, personal=export.personal_data):
        return _fail(export, Failure.PERMISSION)
    with translation.override(export.language):
        form = ReportFilterForm(export.form_data, user=user)
        if not form.is_valid():
            return _fail(export, Failure.FILTERS)
        appointments = form.appointments()
        ExportFile.objects.filter(pk=export.pk).update(
            status=ExportFile.Status.RUNNING,
            rows_done=0,
            office_ids=sorted(office.pk for office in form.chosen_offices()),
        )
        name = f"{export.pk}.{export.format}"
        final = export_dir() / name
        partial_file = export_dir() / f"{name}.part"
        progress = _Progress(export.pk)
        table = progress.count(rows(appointments, personal=export.personal_data, inert=export.format == "csv"))
        try:
            # Created for this service's account only.
            descriptor = os.open(partial_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "wb") as target:
                if export.format == ExportLog.Format.CSV:
                    delimiter = export.form_data.get("delimiter") or ","
                    for line in csv_lines(table, delimiter=delimiter):
                        target.write(line.encode("utf-8"))
                else:
                    write_xlsx(table, target)
            os.replace(partial_file, final)
        except Exception:
            partial_file.unlink(missing_ok=True)
            _fail(export, Failure.ERROR)
            raise
    written = progress.done
    ExportFile.objects.filter(pk=export.pk).update(
        status=ExportFile.Status.DONE,
        file_name=name,
        rows_done=written,
        rows_total=written,
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export


class _Progress:
    """Counts the rows as they go by and saves the count every PROGRESS_EVERY rows (one UPDATE)."""

    def __init__(self, export_id: uuid.UUID) -> None:
        self.export_id = export_id
        self.done = 0

    def count(self, table: Iterator[list[Any]]) -> Iterator[list[Any]]:
        for index, row in enumerate(table):  # the header is row 0
            if index and index % PROGRESS_EVERY == 0:
                ExportFile.objects.filter(pk=self.export_id).update(rows_done=index)
            self.done = index
            yield row


def export_file_path(export: ExportFile) -> Path | None:
    """The file to send, if it is ready, not expired and still on disk."""
    if export.status != ExportFile.Status.DONE or export.expires_at <= timezone.now() or not export.file_name:
        return None
    path = export_dir() / export.file_name
    return path if path.is_file() else None


def delete_expired_exports(*, now: datetime.datetime | None = None) -> int:
    """The beat task: delete the files of exports asked more than 24 hours ago (and what a
    stopped worker left half written); their rows stay, marked deleted. Any other file in the
    folder older than that goes too (its export was deleted with its user). Returns how many
    exports expired."""
    now = now or timezone.now()
    expired = list(ExportFile.objects.filter(expires_at__lte=now).exclude(status=ExportFile.Status.EXPIRED))
    for export in expired:
        for name in (f"{export.pk}.{export.format}", f"{export.pk}.{export.format}.part"):
            (export_dir() / name).unlink(missing_ok=True)
    ExportFile.objects.filter(pk__in=[export.pk for export in expired]).update(
        status=ExportFile.Status.EXPIRED, file_name=""
    )
    oldest = (now - EXPIRES_AFTER).timestamp()
    for path in export_dir().iterdir():
        if EXPORT_FILE_NAME.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
    # An export still waiting after a few minutes was never handed to the worker (the broker was
    # down when it was asked): hand it over again; the task does nothing twice.
    for export_id in ExportFile.objects.filter(
        status=ExportFile.Status.QUEUED, created_at__lte=now - STUCK_AFTER, expires_at__gt=now
    ).values_list("pk", flat=True):
        _enqueue(export_id)
    return len(expired)
