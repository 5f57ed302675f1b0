from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Site-wide pages and plumbing: health check, error pages, privacy notice, demo data."""

    name = "core"
    verbose_name = _("Site")
