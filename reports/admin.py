from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from reports.models import ExportLog


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    """Who exported what: read by program administrators, written only by the code."""

    list_display = ["at", "username", "format", "rows", "personal_data"]
    list_filter = ["format", "personal_data"]
    date_hierarchy = "at"
    readonly_fields = ["at", "user", "username", "format", "filters", "rows", "personal_data"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
