from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender: AppConfig, **kwargs: object) -> None:
    from core.services import ensure_roles

    ensure_roles()


class CoreConfig(AppConfig):
    """Site-wide pages and plumbing: health check, error pages, privacy notice, demo data."""

    name = "core"
    verbose_name = _("Site")

    def ready(self) -> None:
        # Roles and their permissions exist after every migrate: permissions are created by a
        # post_migrate handler of their own, so this one runs last (core is not the last app,
        # hence dispatch on any sender and idempotent work).
        post_migrate.connect(_ensure_roles, dispatch_uid="core.ensure_roles")
        from core import checks  # noqa: F401 - registers the system checks
