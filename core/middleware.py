"""Middleware of our own."""

import functools
import re
from collections.abc import Callable

import csp.middleware
from csp.constants import HEADER
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_vary_headers

from core.compression import gzip_of_parts, padded_gzip

# The two inline style values the jQuery that Django's admin ships applies while it starts (its
# feature tests); hashed, so the admin's pages need no 'unsafe-inline'. Found with chromium's CSP
# report (tests/browser/test_desk.py fails on any other).
ADMIN_STYLE_HASHES = [
    "'unsafe-hashes'",
    "'sha256-bM6i/Qb6snN4zpfDg6WZt+vuPtz+OLCqu86Osj+sOCo='",
    "'sha256-6V0jFG+sl4XTL422gIA4M3FiBc2Xb3Wm+wY/koWzLvs='",
]


class AdminStyleHashesMiddleware:
    """Add those hashes to the Content Security Policy of /admin/ pages only. Listed after
    CSPMiddleware, so it marks the response before the policy is written."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/admin/"):
            update = dict(getattr(response, "_csp_update", None) or {})
            update["style-src"] = [*update.get("style-src", []), *ADMIN_STYLE_HASHES]
            response._csp_update = update  # noqa: SLF001 - what django-csp's @csp_update decorator sets
        return response


class RefuseNulMiddleware:
    """A NUL character anywhere in the query string or a form is never what a person typed, and
    PostgreSQL cannot even receive it: answer 400 (the translated error page) before any view or
    admin filter passes it to the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for data in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
            for key, values in data.lists():
                if "\x00" in key or any("\x00" in value for value in values if isinstance(value, str)):
                    raise SuspiciousOperation("NUL character in the request")
        return self.get_response(request)


class SessionReadAlongMiddleware:
    """Before any other middleware reads the session (StaffSessionMiddleware reads it in its
    process_view, so this one is listed before it): a view that names cache keys to read with the
    session (`core.sessions.read_along`) has them read in the session's round trip, and left on
    the request as `request.read_along` = (keys, values found)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable, args: tuple, kwargs: dict) -> None:
        keys_of = getattr(view, "read_along", None)
        session = getattr(request, "session", None)
        if keys_of is None or not hasattr(session, "read_along"):
            return
        keys = keys_of(request, *args, **kwargs)
        if keys:
            request.read_along = (keys, session.read_along(keys))


class PublicGZipMiddleware(GZipMiddleware):
    """Gzip the public site's pages (under /es/ and /en/), where compression cannot leak a secret.

    BREACH: when a compressed page holds a secret beside text another site can choose, the size of
    the response tells that site, one guess at a time, whether its text matches the secret. Public
    pages hold secrets (the applicant's answers and details, the signed booking link, the manage
    pages), and the only text another site can put in them is the query string, which the
    language link repeats: a request with a query string is sent uncompressed. Paths choose
    nothing but which page (an unknown one is a 404 page without secrets); forms from another site
    fail the CSRF check; CSRF tokens are masked anew in every response. The admin (applicants'
    data beside the search box's reflected text), the calling screen and the short links stay
    uncompressed. Django (since 4.2) also pads each gzipped response with 0 to 99 random bytes,
    which makes such guessing slower but not impossible: it is a second line, not the defence.
    See docs/architecture.md, "Page weight".
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self.prefixes = tuple(f"/{code}/" for code, _name in settings.LANGUAGES)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not request.path_info.startswith(self.prefixes) or request.META.get("QUERY_STRING"):
            return response
        if response.streaming or len(response.content) < 200 or response.has_header("Content-Encoding"):
            return super().process_response(request, response)
        # Django's steps for a page in memory, at zlib's fastest level (core.compression).
        patch_vary_headers(response, ("Accept-Encoding",))
        if not ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        content = response.content
        # A page kept by its process (core.pages) comes with its parts, most compressed already;
        # they are used only if they still make the content (no middleware changed it since).
        parts = getattr(response, "kept_parts", None)
        if parts is not None and b"".join(raw for raw, _compressed in parts) == content:
            compressed = gzip_of_parts(parts, self.max_random_bytes)
        else:
            compressed = padded_gzip(content, self.max_random_bytes)
        if len(compressed) >= len(content):
            return response
        response.content = compressed
        response.headers["Content-Length"] = str(len(compressed))
        if (etag := response.get("ETag")) and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response


ACCEPTS_GZIP = re.compile(r"\bgzip\b")


# What a view or decorator can set on a response to change its policy (django-csp's).
_POLICY_CHANGES = tuple(f"_csp_{what}{ro}" for what in ("exempt", "config", "update", "replace") for ro in ("", "_ro"))


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's, with the policy of a response that changes nothing in it (no nonce used, no
    decorator, no report-only policy) built once per process instead of on every response: it is
    the same string each time, and building it cost about a tenth of a question page."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) for name in _POLICY_CHANGES)
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            or policy.get("EXCLUDE_URL_PREFIXES")
        ):
            return super().process_response(request, response)
        if HEADER not in response:
            response[HEADER] = _plain_policy()
        # As django-csp does: a nonce asked for after the header is written is an error, not a gap.
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


@functools.cache
def _plain_policy() -> str:
    return build_policy()


@receiver(setting_changed)
def _forget_policy(**kwargs: object) -> None:
    _plain_policy.cache_clear()
