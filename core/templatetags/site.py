"""Template helpers used by the site layout."""

from typing import Any

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse, translate_url
from django.utils.safestring import SafeString
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from core.languages import LANGUAGE_NAMES

register = template.Library()

# What {% once_per_language %} rendered, by template, name and language (a few kilobytes each).
_rendered: dict[tuple[str, str, str], SafeString] = {}


@receiver(setting_changed)
def _forget_rendered(**kwargs: Any) -> None:
    # What those parts show comes from the settings too (operator, official address, static files).
    _rendered.clear()


class OncePerLanguageNode(template.Node):
    def __init__(self, nodelist: template.NodeList, name: str) -> None:
        self.nodelist, self.name = nodelist, name

    def render(self, context: template.Context) -> SafeString:
        if settings.DEBUG:  # `make run`: a template edited shows at once
            return self.nodelist.render(context)
        key = (self.origin.name if self.origin else "", self.name, get_language() or "")
        html = _rendered.get(key)
        if html is None:
            html = _rendered[key] = self.nodelist.render(context)
        return html


@register.tag
def once_per_language(parser: template.base.Parser, token: template.base.Token) -> OncePerLanguageNode:
    """{% once_per_language "name" %}...{% endonce_per_language %}: the part of the layout that is
    the same on every page in a language (the banners, the footer: a third of a page's rendering),
    rendered once per language by each process. Only for what depends on nothing but the language
    and the settings: never the request, the page or the person."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("once_per_language takes a name")
    nodelist = parser.parse(("endonce_per_language",))
    parser.delete_first_token()
    return OncePerLanguageNode(nodelist, bits[1].strip("\"'"))


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
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        # The page was resolved already: name it again in the other language (translate_url
        # would resolve the path once more, for each language).
        try:
            with override(language):
                translated = reverse(match.view_name, args=match.args, kwargs=match.kwargs)
        except NoReverseMatch:
            translated = path
        else:
            query = path.partition("?")[2]
            translated += f"?{query}" if query else ""
    else:
        translated = translate_url(path, language)
    if translated != path:
        return translated
    # A page that does not resolve (a 404) still has a language prefix to swap.
    current = f"/{get_language()}/"
    if path.startswith(current):
        return f"/{language}/{path.removeprefix(current)}"
    return f"/{language}/" if language in dict(settings.LANGUAGES) else "/"
