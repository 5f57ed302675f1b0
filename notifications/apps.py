from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Messages to applicants (SMS and e-mail) through an outbox sent by Celery."""

    name = "notifications"
    verbose_name = _("Messages")
