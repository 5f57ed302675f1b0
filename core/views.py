"""Site-wide views: health check, privacy notice, contact page and the error pages."""

import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from uuid import uuid4

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from movilidad.celery import app as celery_app

logger = logging.getLogger(__name__)

# Each dependency check must give up well within the 5 seconds a load balancer waits; the checks
# run side by side and any that has not answered by the deadline counts as down.
HEALTH_CHECK_TIMEOUT = 1.5
HEALTH_DEADLINE = 3.0


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # Each check runs in a thread of its own; its connection must not outlive it.
        connection.close()


def _check_cache() -> None:
    key = f"healthz:{uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def _check_broker() -> None:
    # The connect and read timeouts bound a broker that accepts connections but never answers.
    timeouts = {"socket_connect_timeout": HEALTH_CHECK_TIMEOUT, "socket_timeout": HEALTH_CHECK_TIMEOUT}
    with celery_app.connection_for_write(connect_timeout=HEALTH_CHECK_TIMEOUT, transport_options=timeouts) as conn:
        conn.ensure_connection(max_retries=0, timeout=HEALTH_CHECK_TIMEOUT)


HEALTH_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Report whether the database, the cache and the broker answer: 200 if all do, else 503."""
    executor = ThreadPoolExecutor(max_workers=len(HEALTH_CHECKS), thread_name_prefix="healthz")
    futures = {name: executor.submit(check) for name, check in HEALTH_CHECKS.items()}
    wait(futures.values(), timeout=HEALTH_DEADLINE)
    executor.shutdown(wait=False, cancel_futures=True)
    checks = {}
    for name, future in futures.items():
        error = "Timeout" if not future.done() else (type(future.exception()).__name__ if future.exception() else None)
        if error:
            # Only the exception type: messages can carry connection URLs with credentials.
            logger.warning("healthz check=%s state=down error=%s", name, error)
        checks[name] = "down" if error else "up"
    healthy = all(state == "up" for state in checks.values())
    return JsonResponse(
        {
            "status": "up" if healthy else "down",
            "checks": checks,
            "failing": [name for name, state in checks.items() if state != "up"],
        },
        status=200 if healthy else 503,
    )


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    # The notice says the numbers the code uses (a test ties them together).
    numbers = {
        "retention_days": settings.RETENTION_DAYS,
        "screening_days": settings.SCREENING_RETENTION_DAYS,
        "session_hours": settings.SESSION_HOURS,
        "manage_minutes": settings.MANAGE_SESSION_IDLE_MINUTES,
        "code_minutes": settings.PHONE_CODE_MINUTES,
    }
    return render(request, "core/privacy.html", numbers)


@require_safe
def contact(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/contact.html",
        {"contact_email": settings.CONTACT_EMAIL, "contact_phone": settings.CONTACT_PHONE},
    )


# Error pages: one template, the request's language, never any detail of what went wrong.
ERROR_PAGES = {
    400: (
        _("Sorry, we could not understand that request"),
        _("Something in the request was not valid. Go back and try again, or start again from the start page."),
    ),
    403: (
        _("You cannot see this page"),
        _("You do not have permission to see this page. If you work at an office, sign in with your own account."),
    ),
    404: (
        _("Page not found"),
        _(
            "If you typed the address, check that it is correct. "
            "If you followed a link from a message, the page may have moved."
        ),
    ),
    500: (
        _("Sorry, something went wrong on our side"),
        _("Please try again in a few minutes. If it keeps happening, contact us."),
    ),
    # The database could not be reached (a restart, a failover): nothing was half done.
    503: (
        _("Please try again in a moment"),
        _(
            "The service is busy for a moment. Nothing was changed: go back and send the page again. "
            "If you were booking, your booking is made only once, however many times you try."
        ),
    ),
}
# Errors that mean the database could not be reached, not that the code is wrong.
UNREACHABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5
CSRF_FAILURE_PAGE = (
    _("This page has expired"),
    _(
        "For your security, forms expire after a while. Go back, reload the page and try again. "
        "Your browser must accept cookies from this site."
    ),
)


def _error_page(request: HttpRequest, status: int, page: tuple[str, str]) -> HttpResponse:
    title, message = page
    return TemplateResponse(request, "errors/error.html", {"title": title, "message": message}, status=status).render()


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, 400, ERROR_PAGES[400])


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, 403, ERROR_PAGES[403])


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without a valid CSRF token: usually an expired page or blocked cookies."""
    return _error_page(request, 403, CSRF_FAILURE_PAGE)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, 404, ERROR_PAGES[404])


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this while handling the exception: a database that cannot be reached is a
    "try again" page (503), anything else the 500 page."""
    status = 503 if isinstance(sys.exc_info()[1], UNREACHABLE) else 500
    try:
        response = _error_page(request, status, ERROR_PAGES[status])
    except Exception:
        # The failure may be in the template machinery itself (or the page needed the database):
        # answer with bare HTML.
        logger.exception("error page failed to render")
        response = HttpResponse(
            '<!doctype html><html lang="es"><title>Error</title><h1>Error del servidor / Server error</h1>'
            if status == 500
            else '<!doctype html><html lang="es"><title>Intente de nuevo</title>'
            "<h1>Intente de nuevo en un momento / Please try again in a moment</h1></html>",
            status=status,
        )
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
