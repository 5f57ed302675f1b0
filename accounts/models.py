"""Other packages' records shown in the admin under names of our own: the sign-in lockout's counts
(django-axes' `AccessAttempt`) and the authenticator apps (django-otp's `TOTPDevice`). A proxy gives
each a translated name and permissions that the program administrators' role can hold."""

import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice


class SignInFailures(AccessAttempt):
    """Failed sign-ins of one username from one address (and browser), counted by django-axes."""

    class Meta:
        proxy = True
        verbose_name = _("failed sign-ins")
        verbose_name_plural = _("failed sign-ins")

    def counts_until(self) -> datetime.datetime:
        """When these failures stop counting towards a lockout."""
        return self.attempt_time + settings.AXES_COOLOFF_TIME

    def locks(self, now: datetime.datetime | None = None) -> bool:
        """Whether this row alone locks its username and address now."""
        return self.failures_since_start >= settings.AXES_FAILURE_LIMIT and self.counts_until() > (
            now or timezone.now()
        )


class Authenticator(TOTPDevice):
    """A staff member's authenticator app (django-otp's TOTP device), as program administrators
    see it: who, since when, last used; never its key."""

    class Meta:
        proxy = True
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")
