"""What the reports app writes: the log of every export (who, when, which filters, how many rows,
with or without personal data). Read in the admin by program administrators, edited by nobody."""

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
    lead_seconds = models.BigIntegerField(_("booking to appointment, seconds in all"), default=0)
    wait_seconds = models.BigIntegerField(_("check-in to call, seconds in all"), default=0)
    waits = models.PositiveIntegerField(_("calls timed"), default=0)
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
