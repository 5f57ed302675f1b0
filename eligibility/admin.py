"""The screener in the admin, for program administrators: pathways, versions and their content,
explicit publishing, and a "try it" page that shows each pathway's explanation trace."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from eligibility.forms import AnswerForm
from eligibility.models import HostCountry, Pathway, PathwayRule, Question, ScreenerVersion, Screening, in_language
from eligibility.selectors import load_screener
from eligibility.services import ScreeningError, create_draft, evaluate_pathways, publish_version


@admin.register(Pathway)
class PathwayAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_es", "name_ht", "order"]
    search_fields = ["code", "name_en", "name_es", "name_ht"]


class ConditionField(forms.JSONField):
    """JSON that Python's parser can read: a pasted, absurdly nested value is an error, not a 500."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except RecursionError as exc:
            raise forms.ValidationError(_("This condition is nested too deeply.")) from exc

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Shown again as typed, like any JSON that does not parse.
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)


class FrozenWhenPublished(admin.ModelAdmin):
    """Content of a published or retired version is read-only: changes go into a new draft."""

    list_filter = ["version"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.version.is_editable)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.version.is_editable)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "condition":
            kwargs["form_class"] = ConditionField
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "version":
            kwargs["queryset"] = ScreenerVersion.objects.filter(status=ScreenerVersion.Status.DRAFT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Question)
class QuestionAdmin(FrozenWhenPublished):
    list_display = ["key", "version", "order", "kind", "label_en"]
    list_filter = ["version", "kind"]
    ordering = ["-version__number", "order"]


@admin.register(HostCountry)
class HostCountryAdmin(FrozenWhenPublished):
    list_display = ["country", "version", "presence_cutoff"]


@admin.register(PathwayRule)
class PathwayRuleAdmin(FrozenWhenPublished):
    list_display = ["pathway", "version", "active"]


@admin.register(ScreenerVersion)
class ScreenerVersionAdmin(admin.ModelAdmin):
    list_display = ["number", "status", "created_at", "published_at", "try_link"]
    list_filter = ["status"]
    readonly_fields = ["number", "status", "based_on", "created_at", "published_at"]
    fields = ["number", "status", "notes", "based_on", "created_at", "published_at"]
    actions = ["new_draft", "publish"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions are made with "Create a new draft" from an existing one

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

    @admin.display(description=_("Try it"))
    def try_link(self, obj: ScreenerVersion) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:eligibility_try", args=[obj.pk]), _("Try it"))

    @admin.action(description=_("Create a new draft from the selected version"), permissions=["add_draft"])
    def new_draft(self, request: HttpRequest, queryset: QuerySet[ScreenerVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        draft = create_draft(source=queryset.get())
        self.message_user(request, _("Draft %(number)s created.") % {"number": draft.number}, messages.SUCCESS)

    @admin.action(description=_("Publish the selected draft"), permissions=["publish"])
    def publish(self, request: HttpRequest, queryset: QuerySet[ScreenerVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        try:
            version = publish_version(version=queryset.get())
        except ScreeningError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, _("Version %(number)s is published.") % {"number": version.number}, messages.SUCCESS)

    def has_add_draft_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("eligibility.add_screenerversion")

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("eligibility.change_screenerversion")

    def get_urls(self) -> list:
        return [
            path("<int:pk>/try/", self.admin_site.admin_view(self.try_view), name="eligibility_try"),
            *super().get_urls(),
        ]

    def try_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Enter answers and see every pathway's outcome with the conditions that passed or failed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ScreenerVersion, pk=pk)
        screener = load_screener(version)
        data = request.POST if request.method == "POST" else None
        forms = [AnswerForm(data, question=question, prefix=question.key) for question in screener.questions]
        for form in forms:
            form.fields["answer"].required = False
        results = None
        if data is not None and all(form.is_valid() for form in forms):
            answers = {
                form.question.key: form.cleaned_data["answer"]
                for form in forms
                if form.cleaned_data["answer"] not in (None, "")
            }
            today = timezone.localdate()
            applicable, kept = screener.walk(answers, today)
            results = {
                "asked": [question.key for question in applicable],
                "ignored": sorted(set(answers) - set(kept)),
                "pathways": [
                    {
                        "name": in_language(rule.pathway, "name"),
                        "active": rule.active,
                        "passed": outcome.passed,
                        "trace": outcome.trace(),
                    }
                    for rule, outcome in evaluate_pathways(
                        screener=screener, answers=kept, today=today, active_only=False
                    ).values()
                ],
            }
        context = {
            **self.admin_site.each_context(request),
            "title": _("Try version %(number)s") % {"number": version.number},
            "version": version,
            "forms": forms,
            "results": results,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/eligibility/try.html", context)


@admin.register(Screening)
class ScreeningAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "version", "host_country", "language"]
    list_filter = ["version", "host_country", "language"]
    readonly_fields = ["version", "host_country", "answers", "outcomes", "language", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
