"""Pages that are the same for everyone who sees them in the same state (a question with the same
option chosen, a day with the same times and places), except their CSRF token: each process renders
such a page once per language, path and key, keeps the HTML, and fills in the request's own token.

At a release everyone reads the same few pages; this is what lets them hold the rush
(bench/bench_rush.py). The view builds the key from everything the page shows besides the language
and the path, and gives None whenever the page would show anything else (an error) or anything
about a person (a date of birth): the copies are shared by everyone, and they never hold what one
person typed. A page with a flash message to show, or with a query string (chosen by whoever made
the link), is rendered for its request alone, as is any answer to a POST.
"""

import os
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import get_language

# Where the request's CSRF token goes in a kept page (letters and digits: never escaped).
TOKEN_MARK = "csrftokenmark8d3f0b6c2a"  # noqa: S105 - a mark replaced, not a secret
# Pages kept by each process (a few kilobytes each); the oldest is forgotten first.
PAGES_KEPT = 1000
_pages: dict[tuple[str, str, str, Hashable], str] = {}


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    forget_pages()


def forget_pages() -> None:
    """Drop every kept page (a setting changed, a screener published, tests)."""
    _pages.clear()


def render_shared(
    request: HttpRequest,
    template_name: str,
    context: dict[str, Any] | Callable[[], dict[str, Any]],
    *,
    key: Hashable | None,
    status: int = 200,
    fill: dict[str, str] | None = None,
) -> HttpResponse:
    """`render`, from this process's copy when the view gives a key (see the module's text).
    `context` may be a function, called only when the page is rendered. `fill` maps marks the
    context puts in the page (letters and digits, as TOKEN_MARK) to this request's own values,
    written in escaped: a page that shows what one person typed (their date of birth) is still
    kept once, with the marks, and never holds the value."""
    if (
        key is None
        or settings.DEBUG
        or request.method not in ("GET", "HEAD")
        or request.META.get("QUERY_STRING")
        or len(get_messages(request))
    ):
        response = render(request, template_name, context() if callable(context) else context, status=status)
        if fill:
            response.content = _filled(response.content.decode(), fill)
        return response
    kept = (template_name, get_language() or "", request.path, key)
    html = _pages.get(kept)
    if html is None:
        values = context() if callable(context) else context
        html = render_to_string(template_name, {**values, "csrf_token": TOKEN_MARK}, request)
        while len(_pages) >= PAGES_KEPT:
            # The threads of a process share the copies: another may have just dropped this one.
            _pages.pop(next(iter(_pages), None), None)
        _pages[kept] = html
    return HttpResponse(_filled(html.replace(TOKEN_MARK, csrf_token(request)), fill or {}), status=status)


_INDEX = {char: i for i, char in enumerate(CSRF_ALLOWED_CHARS)}
# Random bytes below this are used (each of the 62 characters equally likely), the rest dropped.
_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)


def csrf_token(request: HttpRequest) -> str:
    """`get_token`, masked ten times faster (a fifth of a kept page's time otherwise): Django
    draws the mask's 32 characters one `secrets.choice` at a time; here they come from one read of
    os.urandom. The same token: a random mask, then the cookie's secret shifted by it, which
    CsrfViewMiddleware unmasks. Without a cookie yet, Django's own (it makes the secret)."""
    secret = request.META.get("CSRF_COOKIE")
    if not secret or any(char not in _INDEX for char in secret):
        return get_token(request)
    # As get_token: the cookie is sent again, which renews its expiry.
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask: list[int] = []
    while len(mask) < len(secret):
        mask += [byte % len(CSRF_ALLOWED_CHARS) for byte in os.urandom(len(secret) + 8) if byte < _BELOW]
    chars, size = CSRF_ALLOWED_CHARS, len(CSRF_ALLOWED_CHARS)
    return "".join(chars[i] for i in mask[: len(secret)]) + "".join(
        chars[(_INDEX[char] + m) % size] for char, m in zip(secret, mask, strict=False)
    )


def _filled(html: str, fill: dict[str, str]) -> str:
    for mark, value in fill.items():
        html = html.replace(mark, escape(value))
    return html
