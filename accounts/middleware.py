"""Staff sessions: idle admin sessions end, and a staff member who gave only their password is
not signed in anywhere until they give their second factor."""

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

# Unix time of the last request of a staff session.
LAST_SEEN = "staff_last_seen"
# The last request is written again at most this often: a session write on every request would
# be wasted, and the idle time is counted in minutes.
TOUCH_EVERY = 60


def start_idle_clock(sender: object, request: HttpRequest | None, user: object, **kwargs: object) -> None:
    """On signing in (user_logged_in), the idle time of a staff session starts: written with the
    session the sign-in saves anyway, not by the next request."""
    if request is not None and getattr(user, "is_staff", False):
        _touch(request, int(time.time()))


def _touch(request: HttpRequest, now: int) -> None:
    request.session[LAST_SEEN] = now
    request.session.set_expiry(settings.STAFF_SESSION_IDLE_MINUTES * 60)


class StaffSessionMiddleware:
    """After AuthenticationMiddleware, MessageMiddleware and django-otp's OTPMiddleware; only for
    staff sessions (is_staff), so the public site's sessions keep their own rules.

    - A staff session with no request for STAFF_SESSION_IDLE_MINUTES is signed out, and an admin
      page then leads to the sign-in page, which says why. Each request keeps the session alive,
      and the stored session expires after the same time (clear_expired_sessions removes it).
    - A staff session keeps that idle time whatever a page sets: the appointment a staff member
      opens by booking on a person's behalf would otherwise give the whole session the manage
      pages' shorter MANAGE_SESSION_IDLE_MINUTES, and sign them out after 20 idle minutes.
    - With STAFF_OTP_REQUIRED, a staff session not yet verified by a second factor reaches only the
      sign-in, sign-out and second-factor pages of the admin: any other admin page leads to the
      second factor (or its setup), and the public pages see nobody signed in (so a password
      alone never books on a person's behalf).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "staff_session", False):
            self._keep_staff_expiry(request)
        return response

    def process_view(self, request: HttpRequest, view: object, args: tuple, kwargs: dict) -> HttpResponse | None:
        """Here rather than in __call__, so that the session is first read once the view is known
        (core.middleware.SessionReadAlongMiddleware reads it before, with what the view needs)."""
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return None
        request.staff_session = True
        in_admin = request.path_info.startswith("/admin/")
        if self._idle_too_long(request):
            logout(request)
            # The sign-in page itself goes on (a password being sent is not lost).
            if in_admin and not request.path_info.startswith(reverse("admin:login")):
                minutes = settings.STAFF_SESSION_IDLE_MINUTES
                messages.info(
                    request, _("You were signed out after %(minutes)d minutes without activity.") % {"minutes": minutes}
                )
                return HttpResponseRedirect(reverse("admin:login") + "?" + urlencode({"next": request.get_full_path()}))
        elif settings.STAFF_OTP_REQUIRED and not user.is_verified():
            if not in_admin:
                request.user = AnonymousUser()
            elif not request.path_info.startswith(self._open_paths()):
                return HttpResponseRedirect(
                    reverse("accounts:second-factor") + "?" + urlencode({"next": request.get_full_path()})
                )
        return None

    @staticmethod
    def _keep_staff_expiry(request: HttpRequest) -> None:
        """Give the session back the staff idle time if the view set another (before
        SessionMiddleware saves it and sets the cookie's max-age); a session the view signed out
        is left alone. Nothing is written when the expiry is already the staff one."""
        expiry = settings.STAFF_SESSION_IDLE_MINUTES * 60
        if LAST_SEEN in request.session and request.session.get_expiry_age() != expiry:
            request.session.set_expiry(expiry)

    @staticmethod
    def _open_paths() -> tuple[str, ...]:
        return (reverse("admin:login"), reverse("admin:logout"), reverse("accounts:second-factor"))

    @staticmethod
    def _idle_too_long(request: HttpRequest) -> bool:
        """True when the session's last request is longer ago than the idle time; otherwise this
        request is noted as the last (at most once a minute)."""
        now = int(time.time())
        idle = settings.STAFF_SESSION_IDLE_MINUTES * 60
        last_seen = request.session.get(LAST_SEEN)
        if isinstance(last_seen, int) and now - last_seen > idle:
            return True
        if not isinstance(last_seen, int) or now - last_seen >= TOUCH_EVERY:
            _touch(request, now)
        return False
