"""The desk in the admin: the queue pages (desk/views.py) under the Tickets entry, and the desk
settings and counters on each office's page."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path

from appointments.admin import OfficeAdmin, visible_offices
from core.admin import MissingIsNotFoundMixin
from desk import views
from desk.models import Counter, DeskSettings, Ticket


@admin.register(Ticket)
class TicketAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    """No list of its own: "Tickets" opens the queue of the user's office."""

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        queue = "queue/<int:office_id>/"
        return [
            path(queue, wrap(views.queue), name="desk_queue"),
            path(f"{queue}find/", wrap(views.find), name="desk_find"),
            path(f"{queue}check-in/<int:appointment_id>/", wrap(views.check_in), name="desk_check_in"),
            path(f"{queue}call-next/", wrap(views.call_next), name="desk_call_next"),
            path(f"{queue}no-show/<int:appointment_id>/", wrap(views.no_show), name="desk_no_show"),
            path(f"{queue}ticket/<int:ticket_id>/print/", wrap(views.ticket_slip), name="desk_ticket_print"),
            path(
                f"{queue}ticket/<int:ticket_id>/<slug:action_name>/",
                wrap(views.ticket_action),
                name="desk_ticket_action",
            ),
            path(f"{queue}print/", wrap(views.day_list), name="desk_day_list"),
            path(f"{queue}screen/", wrap(views.screen_settings), name="desk_screen_settings"),
            path(f"{queue}walk-in/", wrap(views.walk_in), name="desk_walk_in"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return views.choose_office(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ticket]:
        return super().get_queryset(request).filter(office__in=visible_offices(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeskSettingsInline(admin.StackedInline):
    model = DeskSettings
    can_delete = False
    exclude = ["screen_key"]  # shown and rotated on the calling screen's page


class CounterInline(admin.TabularInline):
    model = Counter
    extra = 0


# Each office's page carries its desk (appointments sits below desk).
OfficeAdmin.inlines = [*OfficeAdmin.inlines, DeskSettingsInline, CounterInline]
