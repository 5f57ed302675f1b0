"""The sign-in lockout page."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.lockout import lockout_context


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """What django-axes answers to a sign-in refused by the lockout (AXES_LOCKOUT_CALLABLE): the
    sign-in page's look, why, and in how many minutes to try again; 429 with Retry-After."""
    context = lockout_context(request, credentials)
    response = render(
        request, "accounts/locked_out.html", _page(request, _("Signing in is paused"), **context), status=429
    )
    response["Retry-After"] = str(max(1, int((context["until"] - timezone.now()).total_seconds())))
    return response


def _page(request: HttpRequest, title: str, **context: Any) -> dict[str, Any]:
    # has_permission False: no menus or links to pages this session may not open yet.
    return {**admin.site.each_context(request), "has_permission": False, "title": title, **context}
