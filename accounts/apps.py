from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff accounts: the sign-in lockout, the second factor, idle admin sessions and the rules on
    who may change whose access."""

    name = "accounts"
    verbose_name = _("Staff accounts")

    def ready(self) -> None:
        from accounts import checks  # noqa: F401 - registers the system checks
