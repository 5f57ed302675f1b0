"""Middleware of our own."""

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse

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
