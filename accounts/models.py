"""Other packages' records under names of our own: the sign-in lockout's counts (django-axes'
`AccessAttempt`) and the authenticator apps (django-otp's `TOTPDevice`), each given a translated
name and permissions that the program administrators' role can hold; and the recovery codes
(django-otp's `StaticDevice`), checked against the keyed hashes that are all the database keeps."""

import datetime
from base64 import b32encode

from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_SALT = "movilidad.accounts.recovery-code"
# django-otp's StaticToken.token holds 16 characters: 16 base32 characters are 80 bits of the
# HMAC-SHA256, far more than the 40 bits of a code, so a digest cannot be matched but by its code.
RECOVERY_DIGEST_LENGTH = 16


def recovery_code_digest(*, user_id: int, code: str, secret: str | None = None) -> str:
    """What the database keeps of a recovery code: an HMAC of the code keyed by SECRET_KEY (or
    `secret`), bound to its user so a row copied to another account matches nothing there."""
    digest = salted_hmac(RECOVERY_CODE_SALT, f"{user_id}:{code}", secret=secret, algorithm="sha256").digest()
    return b32encode(digest).decode()[:RECOVERY_DIGEST_LENGTH].lower()


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


class RecoveryCodes(StaticDevice):
    """A staff member's recovery codes: django-otp's static device, whose tokens are the codes'
    keyed hashes (recovery_code_digest) instead of the codes themselves."""

    class Meta:
        proxy = True

    def verify_token(self, token: str) -> bool:
        """Use up the recovery code `token` (typed, normalised) if it is one of this device's.
        Each stored digest is compared with the code's digest under SECRET_KEY and under every key
        of SECRET_KEY_FALLBACKS (codes made before a key rotation keep working), all of them and
        in constant time."""
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        candidates = [recovery_code_digest(user_id=self.user_id, code=token, secret=key) for key in keys]
        match = None
        for stored in self.token_set.order_by("pk"):
            for candidate in candidates:
                if constant_time_compare(stored.token, candidate) and match is None:
                    match = stored
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True
