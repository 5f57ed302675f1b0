"""Staff account pages under /admin/account/ (the second factor: asking for it, setting up an
authenticator app, recovery codes) and the sign-in lockout page."""

from base64 import b32encode
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.models import Device

from accounts import services
from accounts.forms import AuthenticatorCodeForm, SecondFactorForm
from accounts.lockout import lockout_context, minutes_left

# The recovery codes just made, kept in the session only until their page shows them once.
NEW_RECOVERY_CODES = "accounts_new_recovery_codes"


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: Any) -> HttpResponse:
    """What django-axes answers to a sign-in refused by the lockout (AXES_LOCKOUT_CALLABLE): the
    sign-in page's look, why, and in how many minutes to try again; 429 with Retry-After."""
    context = lockout_context(request, credentials)
    response = render(
        request, "accounts/locked_out.html", _page(request, _("Signing in is paused"), **context), status=429
    )
    response["Retry-After"] = str(max(1, int((context["until"] - timezone.now()).total_seconds())))
    return response


def _next_url(request: HttpRequest) -> str:
    """Where to go once signed in: the page first asked for, on this site only."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _with_next(request: HttpRequest, name: str) -> str:
    return reverse(name) + "?" + urlencode({"next": _next_url(request)})


def _page(request: HttpRequest, title: str, **context: Any) -> dict[str, Any]:
    # has_permission False: no menus or links to pages this session may not open yet.
    return {**admin.site.each_context(request), "has_permission": False, "title": title, **context}


def _is_staff(request: HttpRequest) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and user.is_staff


def _verified(request: HttpRequest, device: Device) -> None:
    # A new session key for the session that now opens applicants' data (as the password did).
    request.session.cycle_key()
    otp_login(request, device)


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "HEAD", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    if not _is_staff(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not services.has_authenticator(request.user):
        return redirect(_with_next(request, "accounts:set-up-authenticator"))
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        result = services.verify_second_factor(user=request.user, code=form.cleaned_data["code"])
        if result.device is not None:
            _verified(request, result.device)
            if result.recovery_codes_left is not None:
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a recovery code, which now no longer works: %(count)d is left.",
                        "You signed in with a recovery code, which now no longer works: %(count)d are left.",
                        result.recovery_codes_left,
                    )
                    % {"count": result.recovery_codes_left},
                )
            return redirect(_next_url(request))
        if result.paused_until is not None:
            minutes = minutes_left(result.paused_until)
            form.add_error(
                "code",
                ngettext(
                    "Too many wrong codes in a row. Try again in %(minutes)d minute",
                    "Too many wrong codes in a row. Try again in %(minutes)d minutes",
                    minutes,
                )
                % {"minutes": minutes},
            )
        else:
            form.add_error(
                "code",
                _("That code is not right. Type the code your app shows now, or a recovery code not used before"),
            )
    return render(
        request,
        "accounts/second_factor.html",
        _page(request, _("Second step of signing in"), form=form, next=_next_url(request)),
    )


def qr_svg(text: str) -> SafeString:
    """`text` as an inline SVG QR code (no image request, nothing for the CSP to allow)."""
    svg = segno.make(text, error="m", micro=False).svg_inline(scale=4, border=4, unit="px", light="#fff")
    label = format_html(' role="img" aria-label="{}"', _("QR code to scan with your authenticator app"))
    # segno's output holds only the QR path.
    return mark_safe(svg.replace("<svg", "<svg" + label, 1))  # noqa: S308


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "HEAD", "POST"])
def set_up_authenticator(request: HttpRequest) -> HttpResponse:
    """A staff member without an authenticator adds one: its key as a QR code and as text, then
    its first code; then they get their recovery codes."""
    if not _is_staff(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if services.has_authenticator(request.user):
        return redirect(_with_next(request, "accounts:second-factor"))
    device = services.start_authenticator(user=request.user)
    form = AuthenticatorCodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        confirmed = services.confirm_authenticator(user=request.user, code=form.cleaned_data["code"])
        if confirmed is not None:
            _verified(request, confirmed)
            request.session[NEW_RECOVERY_CODES] = services.replace_recovery_codes(user=request.user)
            return redirect(_with_next(request, "accounts:recovery-codes"))
        form.add_error(
            "code",
            _("That code is not right. Check that the app added this key, and type the code it shows now"),
        )
    secret = b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/set_up_authenticator.html",
        _page(
            request,
            _("Set up the second step of signing in"),
            form=form,
            next=_next_url(request),
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            uri=device.config_url,
            qr=qr_svg(device.config_url),
        ),
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes just made, shown once; and making new ones (the old stop working)."""
    if not _is_staff(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not request.user.is_verified():
        return redirect(reverse("accounts:second-factor") + "?" + urlencode({"next": request.get_full_path()}))
    if request.method == "POST":
        request.session[NEW_RECOVERY_CODES] = services.replace_recovery_codes(user=request.user)
        return redirect(_with_next(request, "accounts:recovery-codes"))
    codes = request.session.pop(NEW_RECOVERY_CODES, None)
    return render(
        request,
        "accounts/recovery_codes.html",
        _page(
            request,
            _("Recovery codes"),
            codes=codes,
            left=services.recovery_codes_left(request.user),
            next=_next_url(request),
        ),
    )
