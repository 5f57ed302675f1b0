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
import re
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import get_language

from core.compression import deflated

# Where the request's CSRF token goes in a kept page (letters and digits: never escaped).
TOKEN_MARK = "csrftokenmark8d3f0b6c2a"  # noqa: S105 - a mark replaced, not a secret
# Pages kept by each process (a few kilobytes each); the oldest is forgotten first.
PAGES_KEPT = 1000
_pages: dict[tuple[str, str, str, Hashable], "_Kept"] = {}


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
    page = _pages.get(kept)
    if page is None:
        values = context() if callable(context) else context
        page = _Kept(render_to_string(template_name, {**values, "csrf_token": TOKEN_MARK}, request))
        while len(_pages) >= PAGES_KEPT:
            # The threads of a process share the copies: another may have just dropped this one.
            _pages.pop(next(iter(_pages), None), None)
        _pages[kept] = page
    own = {TOKEN_MARK: csrf_token(request), **{mark: escape(value) for mark, value in (fill or {}).items()}}
    parts = [
        (own[piece].encode(), None) if compressed is None else (piece, compressed)
        for piece, compressed in page.cut(tuple(own))
    ]
    response = HttpResponse(b"".join(raw for raw, _compressed in parts), status=status)
    # For PublicGZipMiddleware: the fixed parts are compressed once (core.compression).
    response.kept_parts = parts
    return response


class _Kept:
    """A kept page, cut at its marks: its fixed parts encoded and compressed, made once for each
    set of marks a view fills in (one, in practice). The HTML itself is dropped once cut."""

    def __init__(self, html: str) -> None:
        self._html: str | None = html
        self._cuts: dict[tuple[str, ...], list[tuple[Any, bytes | None]]] = {}
        self._first: list[tuple[Any, bytes | None]] = []

    @property
    def html(self) -> str:
        """The page with its marks."""
        if self._html is not None:
            return self._html
        return "".join(piece.decode() if compressed is not None else piece for piece, compressed in self._first)

    def cut(self, marks: tuple[str, ...]) -> list[tuple[Any, bytes | None]]:
        """The page as (fixed bytes, their `deflated`) and (mark, None) in turn."""
        found = self._cuts.get(marks)
        if found is None:
            html, found, start = self.html, [], 0
            for match in re.finditer("|".join(re.escape(mark) for mark in marks), html):
                fixed = html[start : match.start()].encode()
                found += [(fixed, deflated(fixed)), (match.group(), None)]
                start = match.end()
            fixed = html[start:].encode()
            found.append((fixed, deflated(fixed)))
            self._cuts[marks] = found
            if not self._first:
                self._first = found
            self._html = None
        return found


_INDEX = {char: i for i, char in enumerate(CSRF_ALLOWED_CHARS)}
# Random bytes below this are used (each of the 62 characters equally likely), the rest dropped.
_BELOW = 256 - 256 % len(CSRF_ALLOWED_CHARS)


def csrf_token(request: HttpRequest) -> str:
    """`get_token`, ten times faster (a tenth of a kept page's time otherwise): Django draws each
    of the 32 random characters of a mask (and of a new visitor's secret) with its own
    `secrets.choice`; here they come from one read of os.urandom. The same token: a random mask,
    then the cookie's secret shifted by it, which CsrfViewMiddleware unmasks."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None or len(secret) != CSRF_SECRET_LENGTH or any(char not in _INDEX for char in secret):
        # A new visitor (or what the middleware would replace): a new secret, in the cookie.
        secret = "".join(CSRF_ALLOWED_CHARS[i] for i in _random_indices(CSRF_SECRET_LENGTH))
        request.META["CSRF_COOKIE"] = secret
    # As get_token: the cookie is sent (again, which renews its expiry).
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_indices(CSRF_SECRET_LENGTH)
    chars, size = CSRF_ALLOWED_CHARS, len(CSRF_ALLOWED_CHARS)
    return "".join(chars[i] for i in mask) + "".join(
        chars[(_INDEX[char] + m) % size] for char, m in zip(secret, mask, strict=True)
    )


def _random_indices(count: int) -> list[int]:
    """`count` indices into CSRF_ALLOWED_CHARS, each of the 62 equally likely."""
    found: list[int] = []
    while len(found) < count:
        found += [byte % len(CSRF_ALLOWED_CHARS) for byte in os.urandom(count + 8) if byte < _BELOW]
    return found[:count]


def _filled(html: str, fill: dict[str, str]) -> str:
    for mark, value in fill.items():
        html = html.replace(mark, escape(value))
    return html
