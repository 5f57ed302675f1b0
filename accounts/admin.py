"""Staff accounts in the admin: the failed sign-ins with an unlock action, and the authenticator
apps with a remove action."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import Authenticator, SignInFailures
from core.admin import MissingIsNotFoundMixin


class ListWithOneActionAdmin(MissingIsNotFoundMixin, admin.ModelAdmin):
    """Rows other packages write: listed, never added or edited here; deleted only through the
    admin's own action, which does what deleting means (unlocking, removing a second factor)."""

    list_display_links = None

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SignInFailures)
class SignInFailuresAdmin(ListWithOneActionAdmin):
    """Read-only rows of django-axes' counts; unlocking deletes them (program administrators)."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "locked"]
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


# django-otp's own admin pages show a device's key and QR code and the recovery codes themselves,
# and let anyone with the permission add a device with a key they chose for someone else.
for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Authenticator)
class AuthenticatorAdmin(ListWithOneActionAdmin):
    """Who has set up the second factor. Removing someone's authenticator (a lost phone) removes
    their recovery codes too and ends their verified sessions: they set up a new one at their
    next sign-in. Nobody but a superuser removes a superuser's."""

    list_display = ["user", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    ordering = ["user__username"]
    actions = ["remove"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Authenticator]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user__is_superuser=False)

    @admin.action(
        description=_("Remove the selected authenticators (lost phones): they set up a new one when they sign in"),
        permissions=["delete"],
    )
    def remove(self, request: HttpRequest, queryset: QuerySet[Authenticator]) -> None:
        users = list(queryset.values_list("user", flat=True))
        self.log_deletions(request, queryset)
        count = services.remove_second_factor(user_ids=users)
        self.message_user(
            request,
            ngettext(
                "%(count)d authenticator removed, with its recovery codes.",
                "%(count)d authenticators removed, with their recovery codes.",
                count,
            )
            % {"count": count},
        )
