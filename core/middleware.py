"""Middleware of our own."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware

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
        return super().process_response(request, response)
