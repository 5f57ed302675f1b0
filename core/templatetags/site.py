"""Template helpers used by the site layout."""

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.languages import LANGUAGE_NAMES

register = template.Library()


@register.simple_tag
def language_names() -> list[tuple[str, str]]:
    """Each language of the site in its own name, for the language switch."""
    return LANGUAGE_NAMES


@register.simple_tag
def official() -> dict[str, str]:
    """Who runs the service and its official address (settings SERVICE_OPERATOR, OFFICIAL_ADDRESS)."""
    return {"operator": settings.SERVICE_OPERATOR or _("IOM and UNHCR"), "address": settings.OFFICIAL_ADDRESS}


@register.simple_tag(takes_context=True)
def language_switch_url(context: template.Context, language: str) -> str:
    """The current page (with its query string) in `language`.

    A plain link works without cookies, JavaScript or a form, which matters on shared phones.
    """
    request: HttpRequest = context["request"]
    path = request.get_full_path()
    translated = translate_url(path, language)
    if translated != path:
        return translated
    # A page that does not resolve (a 404) still has a language prefix to swap.
    current = f"/{get_language()}/"
    if path.startswith(current):
        return f"/{language}/{path.removeprefix(current)}"
    return f"/{language}/" if language in dict(settings.LANGUAGES) else "/"
