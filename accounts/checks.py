"""System checks of the staff accounts."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def second_factor_required(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Production asks staff for a second factor; only the local demo may skip it."""
    if not settings.STAFF_OTP_REQUIRED and not settings.DEBUG:
        return [
            Warning(
                "STAFF_OTP_REQUIRED is off: staff sign in to applicants' personal data with a password alone.",
                hint="Leave STAFF_OTP_REQUIRED unset (it is on unless DEBUG) outside a developer's machine.",
                id="accounts.W001",
            )
        ]
    return []
