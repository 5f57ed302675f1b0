"""System checks of our own."""

from typing import Any

from django.contrib.staticfiles import finders
from django.core.checks import CheckMessage, Error, Tags, Warning, register

# Written by `npm run build` (scripts/build-css.mjs) from the templates; not in git.
BUILT_CSS = "vendor/bootstrap/bootstrap.css"


@register(Tags.staticfiles)
def built_css_exists(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Every page links the built Bootstrap: without it collectstatic would leave it out and, with
    the manifest storage, every page would fail. collectstatic runs this check, so a production
    build that forgot the step stops there."""
    if finders.find(BUILT_CSS) is None:
        return [
            Error(
                f"{BUILT_CSS} has not been built.",
                hint="Run `npm run build` after `npm ci` (make run and make test do it themselves).",
                id="core.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def messages_not_written_to_files(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The file backends (make run, benchmarks) keep every message, its recipient and its manage
    link on disk, where retention never erases them: not for production."""
    from django.conf import settings

    found = []
    if settings.SMS_BACKEND == "notifications.sms.FileBackend":
        found.append("SMS_BACKEND")
    if settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
        found.append("EMAIL_URL")
    if not found:
        return []
    return [
        Warning(
            f"Messages are written to files ({', '.join(found)}): phone numbers, e-mail addresses and manage "
            "links would stay on disk, out of reach of retention.",
            hint="Set SMS_BACKEND=notifications.sms.HttpBackend with SMS_HTTP_URL, and EMAIL_URL=smtp+tls://...",
            id="core.W001",
        )
    ]


# Every SMS carries a link that starts with SITE_URL, and each text is written to fit one part with
# a SITE_URL of at most this many characters (tests/notifications/test_sms_one_part.py).
SITE_URL_MAX_LENGTH = 33


@register(deploy=True)
def site_url_fits_the_sms(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    from django.conf import settings

    if len(settings.SITE_URL) <= SITE_URL_MAX_LENGTH:
        return []
    return [
        Warning(
            f"SITE_URL has {len(settings.SITE_URL)} characters: the SMS are written for at most "
            f"{SITE_URL_MAX_LENGTH}, so some would need two parts (two charges, and phones that show them apart).",
            hint="Use a shorter domain for the links, such as https://citas.movilidadsegura.org.",
            id="core.W002",
        )
    ]
