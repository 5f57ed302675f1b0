"""Public screener pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def start(request: HttpRequest) -> HttpResponse:
    """The service's start page: what it is, who it is for, that it is free, how long it takes."""
    return render(request, "eligibility/start.html")


@require_safe
def begin(request: HttpRequest) -> HttpResponse:
    """Where the start button leads. The screener questions replace this page (issue #3)."""
    return render(request, "eligibility/questions_closed.html")
