"""Offices, hours, closures and appointments in the admin. Slots are generated, never typed;
appointment changes go through the same services as the public pages. Office staff see only the
offices they are listed on; supervisors and program administrators see every office."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from appointments.models import Appointment, AppointmentEvent, Closure, Office, OpeningHours, Slot
from appointments.selectors import forget_office
from appointments.services import BookingError, cancel_appointment, generate_slots

ALL_OFFICES_PERMISSION = "appointments.view_all_offices"


def visible_offices(request: HttpRequest) -> QuerySet[Office]:
    if request.user.has_perm(ALL_OFFICES_PERMISSION):
        return Office.objects.all()
    return Office.objects.filter(staff=request.user)


def local_time(slot: Slot) -> str:
    return f"{slot.local_start():%Y-%m-%d %H:%M} ({slot.office.time_zone})"


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "country", "time_zone", "active"]
    list_filter = ["active", "country"]
    search_fields = ["name", "city", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["pathways", "staff"]
    inlines = [OpeningHoursInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Office]:
        return super().get_queryset(request).filter(pk__in=visible_offices(request))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        forget_office(form.instance)
        result = generate_slots(office=form.instance)
        self.message_user(
            request,
            _("Slots updated: %(created)s created, %(updated)s changed, %(deleted)s removed.") % vars(result),
        )


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["starts_on", "ends_on", "office", "reason"]
    list_filter = ["office"]
    date_hierarchy = "starts_on"
    readonly_fields = ["appointments_left"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Closure]:
        return super().get_queryset(request).filter(Q(office__in=visible_offices(request)) | Q(office=None))

    @admin.display(description=_("appointments still booked in these days"))
    def appointments_left(self, closure: Closure) -> str:
        if closure.pk is None:
            return "–"
        affected = [
            appointment
            for appointment in Appointment.objects.filter(status=Appointment.Status.BOOKED)
            .filter(Q(office=closure.office) if closure.office_id else Q())
            .select_related("slot__office")
            if closure.starts_on <= appointment.slot.local_start().date() <= closure.ends_on
        ]
        if not affected:
            return _("None.")
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {}',
            (
                (reverse("admin:appointments_appointment_change", args=[a.pk]), a.display_reference, local_time(a.slot))
                for a in affected
            ),
        )

    def _regenerate(self, closure: Closure) -> None:
        offices = [closure.office] if closure.office_id else Office.objects.all()
        for office in offices:
            generate_slots(office=office)

    def save_model(self, request: HttpRequest, obj: Closure, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._regenerate(obj)

    def delete_model(self, request: HttpRequest, obj: Closure) -> None:
        super().delete_model(request, obj)
        self._regenerate(obj)


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    """Read-only: slots come from opening hours and closures."""

    list_display = ["office", "local_start", "capacity", "taken"]
    list_filter = ["office"]
    date_hierarchy = "starts_at"
    list_select_related = ["office"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Slot]:
        return super().get_queryset(request).filter(office__in=visible_offices(request))

    @admin.display(description=_("starts (office time)"), ordering="starts_at")
    def local_start(self, slot: Slot) -> str:
        return local_time(slot)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AppointmentEventInline(admin.TabularInline):
    model = AppointmentEvent
    extra = 0
    fields = ["at", "action", "actor", "data"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClosedSlotFilter(admin.SimpleListFilter):
    title = _("slot closed")
    parameter_name = "closed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Booked in a slot that was closed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> QuerySet[Appointment]:
        if self.value() == "yes":
            return queryset.filter(status=Appointment.Status.BOOKED, slot__capacity=0)
        return queryset


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["display_reference", "office", "starts", "status", "party_size"]
    list_filter = ["status", ClosedSlotFilter, "office"]
    list_select_related = ["slot__office", "office"]
    search_fields = ["=reference"]
    inlines = [AppointmentEventInline]
    actions = ["cancel"]
    exclude = ["slot"]
    readonly_fields = [
        "display_reference",
        "office",
        "starts",
        "status",
        "full_name",
        "date_of_birth",
        "nationality",
        "document_type",
        "document_number",
        "document_country",
        "phone",
        "email",
        "language",
        "party_size",
        "companions",
        "screening",
        "consent_at",
        "created_at",
        "cancelled_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).filter(office__in=visible_offices(request))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        # Staff type the reference as it is printed, with or without dashes, in any case.
        search_term = "".join(ch for ch in search_term.upper() if ch.isalnum())
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("reference"), ordering="reference")
    def display_reference(self, appointment: Appointment) -> str:
        return appointment.display_reference

    @admin.display(description=_("starts (office time)"), ordering="slot__starts_at")
    def starts(self, appointment: Appointment) -> str:
        return local_time(appointment.slot)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Cancel the selected appointments"), permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        done = 0
        for appointment in queryset:
            try:
                cancel_appointment(appointment_id=appointment.pk, actor=request.user)
                done += 1
            except BookingError as exc:
                self.message_user(request, f"{appointment.display_reference}: {exc.message}", messages.WARNING)
        if done:
            self.message_user(
                request,
                ngettext("%(count)d appointment cancelled.", "%(count)d appointments cancelled.", done)
                % {"count": done},
            )
