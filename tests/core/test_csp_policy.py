"""core.middleware.CSPMiddleware: django-csp's policy, built once per process for the responses
that change nothing in it, and exactly as django-csp builds it for the others."""

import csp.middleware
import pytest
from csp.exceptions import CSPNonceError
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings

from core.middleware import CSPMiddleware


def through(middleware_class: type, view) -> HttpResponse:
    request = RequestFactory().get("/es/")
    return middleware_class(view)(request)


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>plain</p>")


def with_nonce(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')


def with_update(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("<p>updated</p>")
    response._csp_update = {"img-src": ["https://maps.example"]}  # as @csp_update does
    return response


def test_a_plain_response_gets_django_csp_s_policy() -> None:
    ours = through(CSPMiddleware, plain)["Content-Security-Policy"]
    assert ours == through(csp.middleware.CSPMiddleware, plain)["Content-Security-Policy"]
    assert "default-src 'none'" in ours
    assert "nonce-" not in ours


def test_a_nonce_or_a_decorator_gets_its_own_policy() -> None:
    with_a_nonce = through(CSPMiddleware, with_nonce)
    nonce = with_a_nonce.content.decode().split('nonce="')[1].split('"')[0]
    assert f"'nonce-{nonce}'" in with_a_nonce["Content-Security-Policy"]
    updated = through(CSPMiddleware, with_update)["Content-Security-Policy"]
    assert "https://maps.example" in updated
    assert updated == through(csp.middleware.CSPMiddleware, with_update)["Content-Security-Policy"]


def test_a_nonce_asked_for_after_the_header_is_written_is_an_error() -> None:
    request = RequestFactory().get("/es/")
    CSPMiddleware(plain)(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)  # it would not be in the policy already sent


def test_a_changed_policy_is_read_again() -> None:
    through(CSPMiddleware, plain)
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'self'"]}}):
        assert through(CSPMiddleware, plain)["Content-Security-Policy"] == "default-src 'self'"
    assert "default-src 'none'" in through(CSPMiddleware, plain)["Content-Security-Policy"]
