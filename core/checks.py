"""System checks of our own."""

from typing import Any

from django.contrib.staticfiles import finders
from django.core.checks import CheckMessage, Error, Tags, register

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
