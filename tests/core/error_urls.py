"""URLs that fail on purpose, to exercise the error handlers through the whole stack."""

from django.conf.urls.i18n import i18n_patterns
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from movilidad.urls import handler400, handler403, handler404, handler500
from movilidad.urls import urlpatterns as site_urlpatterns


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def bad(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("tampered input")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [
    *site_urlpatterns,
    *i18n_patterns(
        path("forbidden/", forbidden),
        path("bad/", bad),
        path("boom/", boom),
    ),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
