"""Staff accounts in the admin: the failed sign-ins with an unlock action."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import SignInFailures
from core.admin import MissingIsNotFoundMixin


@admin.register(SignInFailures)
class SignInFailuresAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    """Read-only rows of django-axes' counts; unlocking deletes them (program administrators)."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "locked"]
    list_display_links = None
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    actions = ["unlock"]

    @admin.display(description=_("locks sign-in now"), boolean=True)
    def locked(self, row: SignInFailures) -> bool:
        return row.locks()

    @admin.action(description=_("Unlock: forget the selected failed sign-ins"), permissions=["delete"])
    def unlock(self, request: HttpRequest, queryset: QuerySet[SignInFailures]) -> None:
        self.log_deletions(request, queryset)
        count, _ = queryset.delete()
        self.message_user(
            request,
            ngettext(
                "%(count)d record of failed sign-ins forgotten: those usernames and addresses may sign in again.",
                "%(count)d records of failed sign-ins forgotten: those usernames and addresses may sign in again.",
                count,
            )
            % {"count": count},
        )

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
