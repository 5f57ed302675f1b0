from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Staff accounts: the sign-in lockout, the second factor, idle admin sessions and the rules on
    who may change whose access."""

    name = "accounts"
    verbose_name = _("Staff accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import checks  # noqa: F401 - registers the system checks
        from accounts.middleware import start_idle_clock

        # Sign-in plumbing, as django-axes and django-otp do theirs: not domain flow.
        user_logged_in.connect(start_idle_clock, dispatch_uid="accounts.start_idle_clock")
