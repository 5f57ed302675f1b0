"""Messages in the admin: each appointment's on its page, all of them here, and "send again" for
failed ones (through the same service as the worker)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from appointments.admin import AppointmentAdmin, OfficeFilter, office_time, visible_offices
from core.admin import MissingIsNotFoundMixin
from core.text import is_ascii_digits, normalise_code
from notifications.models import Notification
from notifications.services import resend


class MessageOfficeFilter(OfficeFilter):
    office_field = "appointment__office_id"

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        office = self.value()
        if not office or not is_ascii_digits(office):
            return queryset
        return queryset.filter(Q(appointment__office_id=office) | Q(appointment__isnull=True, office_id=office))


@admin.register(Notification)
class NotificationAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    list_display = ["appointment", "office", "kind", "channel", "status", "due", "attempts", "sent"]
    list_filter = ["status", "kind", "channel", MessageOfficeFilter]
    list_select_related = ["appointment__office", "office"]
    search_fields = ["=appointment__reference"]
    actions = ["send_again"]
    fields = [
        "appointment",
        "office",
        "kind",
        "channel",
        "recipient",
        "language",
        "status",
        "attempts",
        "last_error",
        "due",
        "sent",
        "provider_message_id",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        offices = visible_offices(request)
        return (
            super()
            .get_queryset(request)
            .filter(Q(appointment__office__in=offices) | Q(appointment__isnull=True, office__in=offices))
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        search_term = normalise_code(search_term)
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("due"), ordering="due_at")
    def due(self, notification: Notification) -> str:
        return office_time(notification.about_office, notification.due_at)

    @admin.display(description=_("sent"), ordering="sent_at")
    def sent(self, notification: Notification) -> str:
        return office_time(notification.about_office, notification.sent_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Send the selected failed messages again"), permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        queued = sum(resend(notification_id=pk) for pk in queryset.values_list("pk", flat=True))
        skipped = queryset.count() - queued
        if queued:
            self.message_user(
                request,
                ngettext("%(count)d message will be sent again.", "%(count)d messages will be sent again.", queued)
                % {"count": queued},
            )
        if skipped:
            self.message_user(request, _("Only failed messages can be sent again."), messages.WARNING)


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    fields = ["kind", "channel", "status", "attempts", "last_error", "sent"]
    readonly_fields = fields
    can_delete = False
    ordering = ["created_at", "pk"]

    @admin.display(description=_("sent"))
    def sent(self, notification: Notification) -> str:
        return office_time(notification.about_office, notification.sent_at)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The appointment's page lists its messages (appointments sits below notifications).
AppointmentAdmin.inlines = [*AppointmentAdmin.inlines, NotificationInline]
