"""The code step of a lottery request and of a waitlist entry at an office that verifies phones
(issue 13): the details page sends a 6-digit code by SMS and the request or entry is made only when
it is entered, on the flow's code page. The codes are appointments.services.phone_codes' (as a
booking's), what the pages share with the booking's code page is appointments/views/phone.py's,
and the typed details wait in a PendingRequest (allocation/phone_services.py). Each flow
(lottery.py, waitlist.py) gives what it makes and what its pages say."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from allocation import phone_services
from allocation.models import PendingRequest
from allocation.models.lottery import Draw
from appointments.forms import PhoneCodeForm, describe, initial_from_typed
from appointments.models import Office
from appointments.services import phone_codes
from appointments.views.booking import staff_of
from appointments.views.common import save_state, session_state
from appointments.views.phone import code_refused, e164, phone_html
from core.limits import refused

CODE_TEMPLATE = "allocation/phone_code.html"


def needs_code(request: HttpRequest, office: Office) -> bool:
    """An applicant at an office that verifies phones. Staff of the office acting on a person's
    behalf (a phone call, a person at the desk) skip the code, as when booking."""
    return office.verify_phone and staff_of(request, office) is None


def pending_of(
    request: HttpRequest, state_key: str, *, kind: str, office: Office, draw: Draw | None = None
) -> PendingRequest | None:
    """This browser's pending request of this kind at this office (and draw), while it lasts."""
    pending_id = session_state(request, state_key).get("pending")
    return phone_services.live_pending(pending_id, kind=kind, office=office, draw=draw)


def typed_initial(pending: PendingRequest | None) -> dict[str, Any]:
    """The details form's initial data: what was typed before the code (kept when it is wrong)."""
    return initial_from_typed(pending.details) if pending is not None else {}


def add_refusal(form: Form, field: str | None, message: str) -> None:
    """Say on the details form why what was typed was refused. The form may be unbound (filled in
    with what waited for the code): Django adds errors only to a cleaned form."""
    if not hasattr(form, "cleaned_data"):
        form.cleaned_data = {}
    form.add_error(field, message)


def ask_for_code(
    request: HttpRequest,
    *,
    state_key: str,
    kind: str,
    office: Office,
    draw: Draw | None,
    screening_id: int,
    values: dict[str, Any],
    form: Form,
    code_url: str,
    make: Callable[[PendingRequest], HttpResponse],
    form_page: Callable[[int], HttpResponse],
) -> HttpResponse:
    """A valid details form at an office that verifies phones: keep what was typed, send a code to
    the number (unless one sent to it can still be entered) and go to the code page. A number
    verified already in this browser makes the request at once (`make`). A code that cannot be sent
    (too soon after the last, every code used, the number's codes for today) shows the form again as
    typed (`form_page(status)`), saying why."""
    pending = phone_services.keep_pending(
        pending_id=session_state(request, state_key).get("pending"),
        kind=kind,
        office=office,
        draw=draw,
        screening_id=screening_id,
        values=values,
    )
    save_state(request, state_key, pending=pending.pk)
    check, phone = pending.phone_check, e164(values)
    if phone_codes.is_verified(check, phone):
        return make(pending)
    if not phone_codes.has_live_code(check, phone):
        try:
            phone_codes.send_code(check=check, phone=phone, office=office, language=values["language"])
        except phone_codes.PhoneCodeError as exc:
            form.add_error("phone", exc.message)
            describe(form)
            response = form_page(exc.code.status)
            if exc.code.status == 429:
                until = exc.retry_at or phone_codes.unlinked_check_ends_at(check)
                response = refused(response, (until - timezone.now()).total_seconds())
            return response
    return redirect(code_url)


def code_page(
    request: HttpRequest,
    *,
    pending: PendingRequest | None,
    office: Office,
    details_url: str,
    code_url: str,
    made: Callable[[], HttpResponse | None],
    make: Callable[[PendingRequest], HttpResponse],
    context: dict[str, Any],
) -> HttpResponse:
    """The flow's code page: the right code makes the request (`make`); "Send a new code"; a link
    back to the details (kept as typed) to change them or the number. `made()` is the page of what
    this browser made already (a second press), if any."""
    if not needs_code(request, office):
        return redirect(details_url)
    if pending is None:
        done = made()
        if done is not None:
            return done
        messages.info(request, _("Fill in your details and send them: we then send you a code by SMS."))
        return redirect(details_url)
    check, phone = pending.phone_check, e164(pending.details)
    if check.phone != phone or not check.sends:
        # No code went to this number yet (changed in another window, or none could be sent).
        messages.info(request, _("Fill in your details and send them: we then send you a code by SMS."))
        return redirect(details_url)
    resend = request.method == "POST" and "resend" in request.POST
    form = PhoneCodeForm(request.POST if request.method == "POST" and not resend else None)
    ends_at = phone_codes.unlinked_check_ends_at(check)
    page = {
        **context,
        "form": form,
        "office": office,
        "phone": phone_html(phone),
        "minutes": settings.PHONE_CODE_MINUTES,
        "details_url": details_url,
        "ends_at": ends_at,
    }
    if request.method == "POST":
        try:
            if resend:
                language = pending.details.get("language", "")
                phone_codes.send_code(check=check, phone=phone, office=office, language=language)
                messages.success(request, _("We sent a new code. The codes sent before no longer work."))
                return redirect(code_url)
            if form.is_valid():
                phone_codes.check_code(check=check, phone=phone, code=form.cleaned_data["code"])
                return make(pending)
        except phone_codes.PhoneCodeError as exc:
            if exc.code == phone_codes.CodeProblem.GONE:
                # The check went meanwhile: a second press of this browser made the request with
                # it (its session now says so), or the purge ended it with what was typed. This
                # page again, read afresh, tells which; this request writes nothing to the session,
                # so it cannot undo what the other press saved there.
                return redirect(code_url)
            if not resend:
                form.add_error("code", exc.message)
                describe(form)
            return code_refused(request, exc, template=CODE_TEMPLATE, context=page, retry_at=ends_at)
    return render(request, CODE_TEMPLATE, page, status=400 if form.errors else 200)
