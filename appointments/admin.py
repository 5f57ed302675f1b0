"""Offices, hours, closures and appointments in the admin. Slots are generated, never typed;
appointment changes go through the same services as the public pages. Office staff see only the
offices they are listed on; supervisors and program administrators see every office."""

import datetime
from typing import Any

import phonenumbers
from django import forms
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from appointments.errors import BookingError
from appointments.models import (
    Appointment,
    AppointmentEvent,
    Closure,
    ClosureRun,
    Office,
    OfficeEvent,
    OpeningHours,
    Slot,
)
from appointments.selectors import forget_office, offices_of
from appointments.services import closures
from appointments.services.changes import cancel_appointment
from appointments.services.closures import start_run as start_closure_run
from appointments.services.lifecycle import log_office_event
from appointments.services.slots import generate_slots
from core.admin import MissingIsNotFoundMixin, SafeDateHierarchyMixin
from core.text import is_ascii_digits, normalise_code, without_controls


def visible_offices(request: HttpRequest) -> QuerySet[Office]:
    return offices_of(request.user)


def local_time(slot: Slot) -> str:
    return f"{slot.local_start():%Y-%m-%d %H:%M} ({slot.office.zone_name()})"


def office_time(office: Office, value: datetime.datetime | None) -> str:
    """A moment in the office's time zone, as staff there read a clock."""
    return f"{value.astimezone(office.zone):%Y-%m-%d %H:%M} ({office.zone_name()})" if value else "-"


class OfficeFilter(admin.SimpleListFilter):
    """Filter by office, listing only the offices the user may see. `office_field` is the lookup
    from the listed model to its office's id."""

    title = _("office")
    parameter_name = "office"
    office_field = "office_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(office.pk), office.name) for office in visible_offices(request)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(**{self.office_field: value}) if value and is_ascii_digits(value) else queryset


def regenerate(model_admin: admin.ModelAdmin, request: HttpRequest, offices: Any) -> None:
    """Bring slots in line after hours or closures changed; the hourly task catches up if busy."""
    for office in offices:
        forget_office(office)
        try:
            result = generate_slots(office=office)
        except BookingError as exc:
            model_admin.message_user(
                request,
                _("%(office)s: slots will be updated within the hour (%(reason)s)")
                % {"office": office, "reason": exc.message},
                messages.WARNING,
            )
            continue
        model_admin.message_user(
            request,
            _("%(office)s: %(created)s slots created, %(updated)s changed, %(deleted)s removed.")
            % {"office": office, **vars(result)},
        )


def _plain(value: Any) -> Any:
    """A form value as the audit trail keeps it (JSON)."""
    if isinstance(value, QuerySet | list | set | tuple):
        return sorted(str(item) for item in value)
    return value if isinstance(value, bool | int | float | type(None)) else str(value)


def record_office_changes(
    request: HttpRequest, form: Any, formsets: Any, change: bool, *, staff_before: set[str], staff_after: set[str]
) -> None:
    """Write what an office's page changed into the office's audit trail: fields with their new
    values, opening hours and desk rows added, changed or deleted, and staff added or removed."""
    office = form.instance
    data: dict[str, Any] = {
        "fields": {name: _plain(form.cleaned_data.get(name)) for name in form.changed_data if name != "staff"}
    }
    for formset in formsets:
        rows = {
            "added": [str(obj) for obj in formset.new_objects],
            "changed": [f"{obj}: {', '.join(fields)}" for obj, fields in formset.changed_objects],
            "deleted": [str(obj) for obj in formset.deleted_objects],
        }
        if any(rows.values()):
            data[formset.model._meta.model_name] = rows  # noqa: SLF001 - the model's name in the trail
    if staff_before != staff_after:
        data["staff"] = {"added": sorted(staff_after - staff_before), "removed": sorted(staff_before - staff_after)}
    if not data["fields"]:
        del data["fields"]
    if data or not change:
        log_office_event(office=office, action="changed" if change else "created", actor=request.user, **data)


EVENT_KEYS = {
    "ticket": _("ticket"),
    "counter": _("counter"),
    "reason": _("reason"),
    "slot": _("slot"),
    "from": _("from slot"),
    "to": _("to slot"),
    "closure": _("closure"),
    "walk_in": _("at the desk"),
    "fields": _("fields"),
    "staff": _("staff"),
    "added": _("added"),
    "removed": _("removed"),
    "changed": _("changed"),
    "deleted": _("deleted"),
    "first_day": _("first day"),
    "last_day": _("last day"),
    "every_office": _("every office"),
    "openinghours": _("opening hours"),
    "desksettings": _("desk settings"),
}
EVENT_REASONS = {
    "did_not_come": _("did not come"),
    "office_closed": _("the office was closed"),
    "still_waiting_at_closing": _("still waiting when the office closed"),
}


def event_details(data: Any) -> str:
    """An event's details in words ("ticket: A-001 · counter: 2"; nested ones in parentheses),
    not as JSON."""
    if isinstance(data, list):
        return ", ".join(event_details(item) for item in data) or "-"
    if not isinstance(data, dict):
        return str(data)
    parts = []
    for key, value in data.items():
        if key == "reason":
            shown = EVENT_REASONS.get(value, value)
        elif isinstance(value, dict):
            shown = f"({event_details(value)})"
        elif isinstance(value, list):
            shown = event_details(value)
        else:
            shown = value
        parts.append(f"{EVENT_KEYS.get(key, key)}: {shown}")
    return " · ".join(parts) or "-"


class OfficeEventInline(admin.TabularInline):
    """The office's audit trail: read-only for everyone."""

    model = OfficeEvent
    extra = 0
    fields = ["when", "action", "actor", "details"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-at", "-pk"]
    verbose_name_plural = _("history (who changed what)")

    @admin.display(description=_("when"))
    def when(self, event: OfficeEvent) -> str:
        return office_time(event.office, event.at)

    @admin.display(description=_("details"))
    def details(self, event: OfficeEvent) -> str:
        return event_details(event.data)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # whoever may see the office sees its history


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class OfficeForm(forms.ModelForm):
    """The office's page. Whoever fills it in cannot add themselves to the office's staff or take
    themselves off it (another administrator can): nobody widens their own access."""

    acting_user: Any = None

    def clean_staff(self) -> Any:
        staff = self.cleaned_data["staff"]
        user = self.acting_user
        if user is not None:
            before = self.instance.pk is not None and self.instance.staff.filter(pk=user.pk).exists()
            if staff.filter(pk=user.pk).exists() != before:
                raise forms.ValidationError(
                    _("You cannot add yourself to an office's staff or remove yourself: ask another administrator"),
                    code="own_assignment",
                )
        return staff


@admin.register(Office)
class OfficeAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    list_display = ["name", "city", "country", "time_zone", "active", "allocation"]
    list_filter = ["active", "country"]
    search_fields = ["name", "city", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["pathways", "staff"]
    # desk/admin.py adds the desk settings and counters.
    inlines = [OpeningHoursInline, OfficeEventInline]

    form = OfficeForm

    def get_form(self, request: HttpRequest, obj: Office | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # A class made for this request: who is filling it in.
        form.acting_user = request.user
        return form

    def get_queryset(self, request: HttpRequest) -> QuerySet[Office]:
        return super().get_queryset(request).filter(pk__in=visible_offices(request))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        staff_before = set(form.instance.staff.values_list("username", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        staff_after = set(form.instance.staff.values_list("username", flat=True))
        record_office_changes(request, form, formsets, change, staff_before=staff_before, staff_after=staff_after)
        regenerate(self, request, [form.instance])


@admin.register(Closure)
class ClosureAdmin(MissingIsNotFoundMixin, SafeDateHierarchyMixin, admin.ModelAdmin):
    list_display = ["starts_on", "ends_on", "office", "reason"]
    list_filter = [OfficeFilter]
    date_hierarchy = "starts_on"
    actions = ["move_left", "cancel_left"]

    def _start_runs(self, request: HttpRequest, queryset: QuerySet[Closure], action: str) -> None:
        office_ids = list(visible_offices(request).values_list("pk", flat=True))
        for closure in queryset:
            run = start_closure_run(closure=closure, action=action, actor=request.user, office_ids=office_ids)
            offices = [closure.office] if closure.office_id else Office.objects.filter(pk__in=office_ids)
            for office in offices:
                log_office_event(office=office, action=f"closure_{action}", actor=request.user, closure=closure.pk)
            self.message_user(
                request,
                ngettext(
                    "%(closure)s: %(count)d appointment to handle; the progress is on the closure's page.",
                    "%(closure)s: %(count)d appointments to handle; the progress is on the closure's page.",
                    run.total,
                )
                % {"closure": closure, "count": run.total},
            )

    @admin.action(
        description=_("Move the appointments left in the closed days to the nearest free time, and tell each person"),
        permissions=["change"],
    )
    def move_left(self, request: HttpRequest, queryset: QuerySet[Closure]) -> None:
        self._start_runs(request, queryset, ClosureRun.Action.MOVE)

    @admin.action(
        description=_("Cancel the appointments left in the closed days, and tell each person how to book again"),
        permissions=["change"],
    )
    def cancel_left(self, request: HttpRequest, queryset: QuerySet[Closure]) -> None:
        self._start_runs(request, queryset, ClosureRun.Action.CANCEL)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Closure]:
        return super().get_queryset(request).filter(Q(office__in=visible_offices(request)) | Q(office=None))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "office":
            kwargs["queryset"] = visible_offices(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> Any:
        closure = self.get_object(request, object_id)
        extra = {
            "appointments_left": self.appointments_left(request, closure) if closure else [],
            "runs": closure.runs.filter(
                office_ids__contained_by=list(visible_offices(request).values_list("pk", flat=True))
            )
            if closure
            else [],
            "can_run": self.has_change_permission(request, closure),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def runs(self, request: HttpRequest, closure: Closure) -> list[ClosureRun]:
        """The bulk runs over this closure that touched only offices this user may see."""
        visible = set(visible_offices(request).values_list("pk", flat=True))
        return [run for run in closure.runs.select_related("actor") if set(run.office_ids) <= visible]

    def appointments_left(self, request: HttpRequest, closure: Closure) -> list[dict[str, Any]]:
        """The booked appointments in the closed days that this user may see, for staff to handle."""
        office_ids = list(visible_offices(request).values_list("pk", flat=True))
        return [
            {
                "url": reverse("admin:appointments_appointment_change", args=[a.pk]),
                "reference": a.display_reference,
                "office": a.slot.office.name,
                "starts": local_time(a.slot),
            }
            for a in closures.appointments_left(closure, office_ids)
        ]

    def _regenerate(self, request: HttpRequest, closure: Closure) -> None:
        regenerate(self, request, [closure.office] if closure.office_id else Office.objects.all())

    def _record(self, request: HttpRequest, closure: Closure, action: str) -> None:
        offices = [closure.office] if closure.office_id else Office.objects.all()
        for office in offices:
            log_office_event(
                office=office,
                action=action,
                actor=request.user,
                closure={
                    "first_day": str(closure.starts_on),
                    "last_day": str(closure.ends_on),
                    "reason": closure.reason,
                },
                every_office=closure.office_id is None,
            )

    def save_model(self, request: HttpRequest, obj: Closure, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        self._record(request, obj, "closure_changed" if change else "closure_added")
        self._regenerate(request, obj)

    def delete_model(self, request: HttpRequest, obj: Closure) -> None:
        self._record(request, obj, "closure_deleted")
        super().delete_model(request, obj)
        self._regenerate(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Closure]) -> None:
        deleted = list(queryset)
        for closure in deleted:
            self._record(request, closure, "closure_deleted")
        super().delete_queryset(request, queryset)
        if any(closure.office_id is None for closure in deleted):
            regenerate(self, request, Office.objects.all())
        else:
            regenerate(self, request, Office.objects.filter(pk__in={c.office_id for c in deleted}))


@admin.register(Slot)
class SlotAdmin(MissingIsNotFoundMixin, SafeDateHierarchyMixin, admin.ModelAdmin):
    """Read-only: slots come from opening hours and closures."""

    list_display = ["office", "local_start", "capacity", "taken"]
    list_filter = [OfficeFilter]
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
    """The appointment's audit trail: read-only for everyone."""

    model = AppointmentEvent
    extra = 0
    fields = ["when", "action", "by", "actor", "details"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("when"))
    def when(self, event: AppointmentEvent) -> str:
        return office_time(event.appointment.office, event.at)

    @admin.display(description=_("details"))
    def details(self, event: AppointmentEvent) -> str:
        return event_details(event.data)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # whoever may see the appointment sees its history


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
class AppointmentAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    list_display = ["display_reference", "full_name", "office", "starts", "status", "party_size"]
    list_filter = ["status", ClosedSlotFilter, OfficeFilter]
    list_select_related = ["slot__office", "office"]
    # Reference, document number, phone or part of the name; see get_search_results.
    search_fields = ["=reference"]
    search_help_text = _("A reference (with or without dashes), a document number, a phone number or part of a name.")
    # notifications/admin.py adds the messages' inline.
    inlines = [AppointmentEventInline]
    actions = ["cancel"]
    # Every field is read-only, consent evidence included: changes go through the actions.
    fields = readonly_fields = [
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
        "family_members",
        "screening",
        "consent",
        "booked",
        "cancelled",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).filter(office__in=visible_offices(request))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> Any:
        # Nothing on the page is editable: changes are the actions and the desk's, not a form.
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """A reference or document number as printed (dashes, spaces, any case, full width), a phone
        number as people write it, or part of a name."""
        term = without_controls(search_term).strip()[:100]
        if not term:
            return queryset, False
        code = normalise_code(term)
        wanted = Q(full_name__icontains=term) if len(term) >= 3 else Q(pk__in=[])
        if code:
            wanted |= Q(reference=code) | Q(document_number=code)
        try:
            region = visible_offices(request).values_list("country", flat=True).first()
            number = phonenumbers.parse(term, region or None)
            if phonenumbers.is_valid_number(number):
                wanted |= Q(phone=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            pass
        return queryset.filter(wanted), False

    @admin.display(description=_("family members attending"))
    def family_members(self, appointment: Appointment) -> str:
        people = [
            _("%(name)s (%(age)s)") % {"name": person.get("name", ""), "age": person.get("age", "")}
            for person in appointment.companions
            if isinstance(person, dict)
        ]
        return "; ".join(people) or "-"

    @admin.display(description=_("reference"), ordering="reference")
    def display_reference(self, appointment: Appointment) -> str:
        return appointment.display_reference

    @admin.display(description=_("starts (office time)"), ordering="slot__starts_at")
    def starts(self, appointment: Appointment) -> str:
        return local_time(appointment.slot)

    @admin.display(description=_("privacy notice accepted"))
    def consent(self, appointment: Appointment) -> str:
        return office_time(appointment.office, appointment.consent_at)

    @admin.display(description=_("booked"))
    def booked(self, appointment: Appointment) -> str:
        return office_time(appointment.office, appointment.created_at)

    @admin.display(description=_("cancelled"))
    def cancelled(self, appointment: Appointment) -> str:
        return office_time(appointment.office, appointment.cancelled_at)

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
