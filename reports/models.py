"""What the reports app writes: the log of every export (who, when, which filters, how many rows,
with or without personal data). Read in the admin by program administrators, edited by nobody."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportLog(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as written at the time, so the log still says who after the account is deleted.
    username = models.CharField(_("username"), max_length=150)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    filters = models.JSONField(_("filters"), default=dict)
    rows = models.PositiveIntegerField(_("rows"))
    personal_data = models.BooleanField(_("with personal data"))

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("export log")
        ordering = ["-at"]
        # Written by the code only: the admin offers no add, change or delete.
        default_permissions = ("view",)
        permissions = [
            ("view_reports", _("Can see the reports and export appointment lists")),
            ("export_personal_data", _("Can export personal data (names, documents, phones, e-mails)")),
        ]
        constraints = [models.CheckConstraint(condition=Q(format__in=["csv", "xlsx"]), name="reports_export_format")]

    def __str__(self) -> str:
        return f"{self.username} {self.at:%Y-%m-%d %H:%M} {self.format}"


class DailyStat(models.Model):
    """Anonymous counts of one office's day for one kind of applicant (the first pathway their
    screening found, nationality, host country): what reports over old periods read once the
    appointments' personal data is erased. Kept by `services.refresh_daily_stats`."""

    office = models.ForeignKey(
        "appointments.Office", verbose_name=_("office"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("day"))
    pathway = models.CharField(_("pathway"), max_length=50, blank=True)
    nationality = models.CharField(_("nationality"), max_length=2, blank=True)
    host_country = models.CharField(_("host country"), max_length=2, blank=True)
    booked = models.PositiveIntegerField(_("booked"), default=0)
    cancelled = models.PositiveIntegerField(_("cancelled"), default=0)
    attended = models.PositiveIntegerField(_("checked in"), default=0)
    served = models.PositiveIntegerField(_("served"), default=0)
    no_show = models.PositiveIntegerField(_("no-shows"), default=0)
    moved = models.PositiveIntegerField(_("moved"), default=0)
    lead_seconds = models.BigIntegerField(_("booking to appointment, seconds in all"), default=0)
    wait_seconds = models.BigIntegerField(_("check-in to call, seconds in all"), default=0)
    waits = models.PositiveIntegerField(_("calls timed"), default=0)
    # Histograms, {whole hours or minutes: appointments}, for medians and percentiles.
    lead_hours = models.JSONField(_("booking to appointment, appointments per whole hour"), default=dict)
    wait_minutes = models.JSONField(_("check-in to call, calls per whole minute"), default=dict)
    refreshed_at = models.DateTimeField(_("refreshed"), default=timezone.now)

    class Meta:
        verbose_name = _("daily statistic")
        verbose_name_plural = _("daily statistics")
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["office", "day", "pathway", "nationality", "host_country"], name="reports_daily_stat_once"
            )
        ]
        indexes = [models.Index(fields=["day", "office"], name="reports_daily_stat_day")]

    def __str__(self) -> str:
        return f"{self.office_id} {self.day} {self.pathway} {self.nationality} {self.host_country}"


class CountedDay(models.Model):
    """An office's local day whose appointments are counted in the daily statistics (with or
    without rows: a day without appointments is counted too). The report reads these days from the
    statistics and counts the others from the appointments."""

    office = models.ForeignKey(
        "appointments.Office", verbose_name=_("office"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("day"))
    counted_at = models.DateTimeField(_("counted"), default=timezone.now)

    class Meta:
        verbose_name = _("counted day")
        verbose_name_plural = _("counted days")
        default_permissions = ("view",)
        constraints = [models.UniqueConstraint(fields=["office", "day"], name="reports_counted_day_once")]

    def __str__(self) -> str:
        return f"{self.office_id} {self.day}"


class ExportFile(models.Model):
    """An export too large to stream, made by a Celery task into a private file (outside every
    static or media directory): only the member of staff who asked may download it, while they
    still have the permission, until it expires (24 hours) and a beat task deletes it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting for its turn")
        RUNNING = "running", _("Being written")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Not made")
        EXPIRED = "expired", _("Deleted")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    log = models.OneToOneField(ExportLog, verbose_name=_("export"), on_delete=models.PROTECT, related_name="file")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    format = models.CharField(_("format"), max_length=4, choices=ExportLog.Format.choices)
    # The report's filters as the form reads them: the task checks them again as the user then.
    form_data = models.JSONField(_("filters"), default=dict)
    personal_data = models.BooleanField(_("with personal data"))
    # The offices the file covers, written by the task: the download checks the user still sees them.
    office_ids = models.JSONField(_("offices"), default=list)
    language = models.CharField(_("language"), max_length=8)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    failure = models.CharField(_("why not made"), max_length=12, blank=True)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file_name = models.CharField(_("file"), max_length=80, blank=True)
    download_name = models.CharField(_("download name"), max_length=80)
    created_at = models.DateTimeField(_("asked"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("export file")
        verbose_name_plural = _("export files")
        ordering = ["-created_at"]
        default_permissions = ()

    def __str__(self) -> str:
        return self.download_name

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, 100 * self.rows_done // self.rows_total) if self.rows_total else 0

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
