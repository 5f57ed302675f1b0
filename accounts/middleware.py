"""Staff sessions: a staff member who gave only their password is not signed in anywhere until
they give their second factor."""

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class StaffSessionMiddleware:
    """After AuthenticationMiddleware, MessageMiddleware and django-otp's OTPMiddleware.

    With STAFF_OTP_REQUIRED, a staff session (is_staff) not yet verified by a second factor
    reaches only the sign-in, sign-out and second-factor pages of the admin: any other admin page
    leads to the second factor (or its setup), and the public pages see nobody signed in (so a
    password alone never books on a person's behalf).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_staff and settings.STAFF_OTP_REQUIRED and not user.is_verified():
            if not request.path_info.startswith("/admin/"):
                request.user = AnonymousUser()
            elif not request.path_info.startswith(self._open_paths()):
                return HttpResponseRedirect(
                    reverse("accounts:second-factor") + "?" + urlencode({"next": request.get_full_path()})
                )
        return self.get_response(request)

    @staticmethod
    def _open_paths() -> tuple[str, ...]:
        return (reverse("admin:login"), reverse("admin:logout"), reverse("accounts:second-factor"))
