"""Staff accounts in the admin: the failed sign-ins with an unlock action, the authenticator apps
with a remove action, and users and roles where nobody changes their own access."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
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

    list_display = ["username_tried", "address", "failures", "last_failure", "locked"]
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]
    actions = ["unlock"]

    @admin.display(description=_("username"), ordering="username")
    def username_tried(self, row: SignInFailures) -> str:
        return row.username or "-"

    @admin.display(description=_("network address"), ordering="ip_address")
    def address(self, row: SignInFailures) -> str:
        return row.ip_address or "-"

    @admin.display(description=_("wrong passwords"), ordering="failures_since_start")
    def failures(self, row: SignInFailures) -> int:
        return row.failures_since_start

    @admin.display(description=_("last wrong password"), ordering="attempt_time")
    def last_failure(self, row: SignInFailures) -> Any:
        return row.attempt_time

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
# and let anyone with the permission add a device with a key they chose for someone else. Django's
# user and group pages are registered again below, with the rules on one's own access.
for model in (TOTPDevice, StaticDevice, get_user_model(), Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Authenticator)
class AuthenticatorAdmin(ListWithOneActionAdmin):
    """Who has set up the second factor. Removing someone's authenticator (a lost phone) removes
    their recovery codes too and ends their verified sessions: they set up a new one at their
    next sign-in. Nobody but a superuser removes a superuser's."""

    list_display = ["user", "set_up", "created", "last_used"]
    search_fields = ["user__username"]
    ordering = ["user__username"]
    actions = ["remove"]

    @admin.display(description=_("confirmed with a code"), boolean=True, ordering="confirmed")
    def set_up(self, device: Authenticator) -> bool:
        return device.confirmed

    @admin.display(description=_("added"), ordering="created_at")
    def created(self, device: Authenticator) -> Any:
        return device.created_at

    @admin.display(description=_("last used"), ordering="last_used_at")
    def last_used(self, device: Authenticator) -> Any:
        return device.last_used_at

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


# Fields that give access: nobody changes their own (another administrator can).
OWN_ACCESS = ("is_staff", "is_superuser", "groups", "user_permissions")
# Superuser status and single permissions: only a superuser grants them (others use the roles).
SUPERUSERS_ONLY = ("is_superuser", "user_permissions")


def _read_only(fields: list[str], extra: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys([*fields, *extra]))


@admin.register(get_user_model())
class StaffUserAdmin(UserAdmin):
    """Django's user admin with two rules: nobody changes their own access (staff and superuser
    status, roles, permissions), and only a superuser makes someone a superuser, grants single
    permissions or changes a superuser's account."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:
            fields = _read_only(fields, OWN_ACCESS)
        if not request.user.is_superuser:
            fields = _read_only(fields, SUPERUSERS_ONLY)
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.pk == request.user.pk or (obj.is_superuser and not request.user.is_superuser)):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Django's group admin: the permissions of a role you hold are yours, so you cannot change
    them (another administrator can)."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and request.user.groups.filter(pk=obj.pk).exists():
            fields = _read_only(fields, ("permissions",))
        return fields
