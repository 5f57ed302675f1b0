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
