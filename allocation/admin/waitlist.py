"""The waitlist in the admin: read-only, each member of staff sees their own offices' lists
(appointments.selectors.offices_of), supervisors every office's."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from allocation.models import WaitlistEntry
from appointments.admin import OfficeFilter, office_time, visible_offices
from core.admin import MissingIsNotFoundMixin

__all__ = ["WaitlistEntryAdmin"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    list_display = ["joined", "office", "full_name", "party_size", "status", "offered_time", "offer_expires"]
    list_filter = ["status", OfficeFilter]
    list_select_related = ["office", "offer_slot__office"]
    fields = [
        "office",
        "status",
        "joined",
        "full_name",
        "document_type",
        "document_number",
        "document_country",
        "phone",
        "language",
        "party_size",
        "offered_time",
        "offer_expires",
        "appointment",
        "erased_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitlistEntry]:
        return super().get_queryset(request).filter(office__in=visible_offices(request))

    @admin.display(description=_("joined"), ordering="joined_at")
    def joined(self, entry: WaitlistEntry) -> str:
        return office_time(entry.office, entry.joined_at)

    @admin.display(description=_("time offered"))
    def offered_time(self, entry: WaitlistEntry) -> str:
        return office_time(entry.office, entry.offer_slot.starts_at) if entry.offer_slot else "-"

    @admin.display(description=_("offer expires"), ordering="offer_expires_at")
    def offer_expires(self, entry: WaitlistEntry) -> str:
        return office_time(entry.office, entry.offer_expires_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
