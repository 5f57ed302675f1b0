"""The lottery pages: the office's lottery page (the window, the published hash, past draws with
their seed), how many people, the request, its confirmation, the list of numbers in the drawn
order (plain text, to check a draw) and the offer link's page."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from allocation import lottery_services, phone_services
from allocation.limits import too_many_requests
from allocation.models import PendingRequest
from allocation.models.lottery import Draw, LotteryRequest
from allocation.views.phone import add_refusal, ask_for_code, code_page, needs_code, pending_of, typed_initial
from appointments import selectors
from appointments.errors import BookingError
from appointments.forms import DetailsForm, PartySizeForm
from appointments.models import Office
from appointments.views.booking import ScreeningFacts, booking_view, screening_facts
from appointments.views.common import (
    BOOKING,
    GET_POST,
    busy,
    problem,
    save_state,
    session_state,
    show_booked,
    used_offer_link,
)
from core.limits import refused

LOTTERY = "lottery"


def _lottery_office(slug: str) -> Office:
    office = Office.objects.filter(slug=slug, active=True, allocation=Office.Allocation.LOTTERY).first()
    if office is None:
        raise Http404
    return office


def _person_office(screening: ScreeningFacts, slug: str) -> Office:
    """The lottery office, if it serves this person's screening."""
    office = selectors.office_for(screening, slug)
    if office is None or office.allocation != Office.Allocation.LOTTERY:
        raise Http404
    return office


@require_safe
def lottery(request: HttpRequest, office: str) -> HttpResponse:
    """The office's lottery page: anyone may read it (the hash is public); a person with an
    eligible result in this browser may request a place while the window is open."""
    chosen = _lottery_office(office)
    now = timezone.now()
    screening = screening_facts(request)
    can_request = screening is not None and selectors.office_for(screening, chosen.slug) is not None
    mine = session_state(request, LOTTERY)
    return render(
        request,
        "allocation/lottery/office.html",
        {
            "office": chosen,
            **lottery_services.office_draws(chosen, now),
            "can_request": can_request,
            "mine": mine.get("number") if mine.get("office") == chosen.slug else None,
        },
    )


def _open_draw_or_problem(request: HttpRequest, office: Office) -> Draw | HttpResponse:
    draw = lottery_services.open_draw_of(office, timezone.now())
    if draw is None:
        return problem(
            request,
            _("Requests for this draw are not open now. The office's lottery page says when they open."),
            status=409,
        )
    return draw


@GET_POST
@booking_view
def people(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    chosen = _person_office(screening, office)
    draw = _open_draw_or_problem(request, chosen)
    if isinstance(draw, HttpResponse):
        return draw
    state = session_state(request, LOTTERY)
    form = PartySizeForm(request.POST or None, office=chosen, initial={"party_size": state.get("people", 1)})
    if request.method == "POST" and form.is_valid():
        save_state(request, LOTTERY, people=form.cleaned_data["party_size"])
        return redirect("allocation:lottery-request", chosen.slug)
    return render(
        request,
        "allocation/lottery/people.html",
        {"form": form, "office": chosen, "draw": draw, "code_next": needs_code(request, chosen)},
        status=400 if form.errors else 200,
    )


@GET_POST
@booking_view
def make_request(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    chosen = _person_office(screening, office)
    draw = _open_draw_or_problem(request, chosen)
    if isinstance(draw, HttpResponse):
        return draw
    form = _details_form(request, chosen, draw, request.POST or None)
    status = 200
    wait = None
    if request.method == "POST" and form.is_valid() and (wait := too_many_requests(request, chosen)) is None:
        values = form.as_typed()
        if not needs_code(request, chosen):
            return _submit(request, chosen, draw, screening_id=screening.pk, values=values, form=form)
        refusal = lottery_services.request_refusal(draw=draw, values=values)
        if refusal is None:
            return ask_for_code(
                request,
                state_key=LOTTERY,
                kind=PendingRequest.Kind.LOTTERY,
                office=chosen,
                draw=draw,
                screening_id=screening.pk,
                values=values,
                form=form,
                code_url=reverse("allocation:lottery-code", args=[chosen.slug]),
                make=lambda pending: _submit(request, chosen, draw, form=form, pending=pending),
                form_page=lambda code_status: _request_page(request, chosen, draw, form, code_status),
            )
        form.add_error(_refused_field(refusal), refusal.message)
        status = 409
    response = _request_page(request, chosen, draw, form, 400 if form.errors and status == 200 else status)
    return refused(response, wait) if wait is not None else response


def _details_form(request: HttpRequest, office: Office, draw: Draw, data: Any) -> DetailsForm:
    """The request's details form: posted, or filled in with what was typed before the code."""
    booking = session_state(request, BOOKING)
    known = booking.get("known") if isinstance(booking.get("known"), dict) else {}
    asking = request.POST.get("identity") == "ask"
    people_count = session_state(request, LOTTERY).get("people", 1)
    pending = pending_of(request, LOTTERY, kind=PendingRequest.Kind.LOTTERY, office=office, draw=draw)
    return DetailsForm(
        data,
        office=office,
        day=draw.period_start,
        party_size=people_count,
        known={} if asking else known,
        initial={**typed_initial(pending), "party_size": people_count},
    )


def _request_page(request: HttpRequest, office: Office, draw: Draw, form: DetailsForm, status: int) -> HttpResponse:
    return render(
        request,
        "allocation/lottery/request.html",
        {"form": form, "office": office, "draw": draw, "known": form.known, "code_next": needs_code(request, office)},
        status=status,
    )


def _refused_field(refusal: lottery_services.LotteryError) -> str | None:
    """Where a refused request's message goes: at the phone when another number would do."""
    return "phone" if refusal.code == lottery_services.LotteryErrorCode.PHONE_LIMIT else None


def _submit(
    request: HttpRequest,
    office: Office,
    draw: Draw,
    *,
    form: DetailsForm,
    screening_id: int = 0,
    values: dict[str, Any] | None = None,
    pending: PendingRequest | None = None,
) -> HttpResponse:
    """Make the request: at once from what was posted, or from what waited for the code (`pending`,
    then deleted). Refused, the details page again (409), filled in."""
    if pending is not None:
        screening_id, values = pending.screening_id, pending.details
    try:
        made = lottery_services.submit_request(draw_id=draw.pk, screening_id=screening_id, values=values)
    except lottery_services.LotteryError as exc:
        add_refusal(form, _refused_field(exc), exc.message)
        return _request_page(request, office, draw, form, 409)
    if pending is not None:
        phone_services.forget(pending)
    request.session[LOTTERY] = {"office": office.slug, "number": made.number, "draw": draw.pk}
    return redirect("allocation:lottery-requested", office.slug)


@GET_POST
@booking_view
def code(request: HttpRequest, screening: ScreeningFacts, office: str) -> HttpResponse:
    """The code sent by SMS at an office that verifies phones: the request is made when it is entered."""
    chosen = _person_office(screening, office)
    draw = _open_draw_or_problem(request, chosen)
    if isinstance(draw, HttpResponse):
        return draw
    details_url = reverse("allocation:lottery-request", args=[chosen.slug])
    return code_page(
        request,
        pending=pending_of(request, LOTTERY, kind=PendingRequest.Kind.LOTTERY, office=chosen, draw=draw),
        office=chosen,
        details_url=details_url,
        code_url=reverse("allocation:lottery-code", args=[chosen.slug]),
        made=lambda: _made_already(request, chosen),
        make=lambda pending: _submit(
            request, chosen, draw, form=_details_form(request, chosen, draw, None), pending=pending
        ),
        context={"kind": "lottery", "draw": draw},
    )


def _made_already(request: HttpRequest, office: Office) -> HttpResponse | None:
    mine = session_state(request, LOTTERY)
    if mine.get("office") == office.slug and mine.get("number"):
        return redirect("allocation:lottery-requested", office.slug)
    return None


@require_safe
def requested(request: HttpRequest, office: str) -> HttpResponse:
    chosen = _lottery_office(office)
    mine = session_state(request, LOTTERY)
    made = None
    if mine.get("office") == chosen.slug and mine.get("number"):
        made = LotteryRequest.objects.select_related("draw").filter(number=mine["number"]).first()
    if made is None:
        return redirect("allocation:lottery", chosen.slug)
    return render(
        request,
        "allocation/lottery/requested.html",
        {"office": chosen, "made": made, "draw": made.draw, "number": lottery_services.display_number(made.number)},
    )


@require_safe
def numbers(request: HttpRequest, office: str, draw: int) -> HttpResponse:
    """The published list, once drawn: position and request number per line, with the seed and
    its hash, so anyone can recompute the order (docs/lottery.md)."""
    chosen = _lottery_office(office)
    found = Draw.objects.filter(pk=draw, office=chosen, status=Draw.Status.DRAWN).first()
    if found is None:
        raise Http404
    rows = found.requests.order_by("position").values_list("position", "number")
    lines = [
        f"# seed {found.seed}",
        f"# sha256 {found.seed_hash}",
        f"# places {found.places}",
        "# order: numbers sorted by HMAC-SHA256(key=seed, message=number) in hex, smallest first",
    ]
    lines += [f"{position} {number}" for position, number in rows]
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="draw-{found.pk}.txt"'
    return response


@never_cache
@GET_POST
def offer(request: HttpRequest, token: str) -> HttpResponse:
    """The link sent by SMS: the place offered, and a button to confirm it (a POST with CSRF)."""
    found = lottery_services.find_offer(token)
    if found is None:
        return problem(request, lottery_services.link_error().message, status=404)
    if request.method == "POST" and found.status == LotteryRequest.Status.BOOKED:
        return used_offer_link(request, found.appointment_id, lottery_services.offer_error(found.status).message)
    if request.method == "POST" and request.POST.get("action") == "decline":
        return _decline(request, token, found)
    if request.method == "POST":
        try:
            appointment = lottery_services.confirm_offer(token=token)
        except lottery_services.LotteryError as exc:
            return problem(request, exc.message, status=410)
        except BookingError as exc:
            if exc.code == "busy":
                return busy(request, exc)
            return problem(request, exc.message, status=409, restart=exc.code == "screening")
        return show_booked(request, appointment)
    if found.status in (LotteryRequest.Status.BOOKED, LotteryRequest.Status.DECLINED):
        return problem(request, lottery_services.offer_error(found.status).message, status=410)
    over = found.status != LotteryRequest.Status.OFFERED or found.offer_expires_at <= timezone.now()
    return render(
        request, "allocation/lottery/offer.html", _offer_context(found, over=over), status=410 if over else 200
    )


def _offer_context(found: LotteryRequest, **extra: Any) -> dict[str, Any]:
    return {
        "made": found,
        "number": lottery_services.display_number(found.number),
        "office": found.draw.office,
        "slot": found.slot,
        **extra,
    }


def _decline(request: HttpRequest, token: str, found: LotteryRequest) -> HttpResponse:
    """ "I cannot come": first a page that asks to confirm, then the place passes down at once."""
    if request.POST.get("confirm") != "yes":
        if found.status != LotteryRequest.Status.OFFERED or found.offer_expires_at <= timezone.now():
            return problem(request, lottery_services.offer_error(found.status).message, status=410)
        return render(request, "allocation/lottery/offer.html", _offer_context(found, over=False, declining=True))
    try:
        lottery_services.decline_offer(token=token)
    except lottery_services.LotteryError as exc:
        return problem(request, exc.message, status=410)
    except BookingError as exc:
        if exc.code == "busy":
            return busy(request, exc)  # a slot's lock not given in time: nothing changed
        return problem(request, exc.message, status=409)
    return render(request, "allocation/lottery/offer.html", _offer_context(found, over=False, declined=True))


urlpatterns = [
    path("lottery-offer/<str:token>/", offer, name="lottery-offer"),
    path("lottery/<slug:office>/", lottery, name="lottery"),
    path("lottery/<slug:office>/people/", people, name="lottery-people"),
    path("lottery/<slug:office>/request/", make_request, name="lottery-request"),
    path("lottery/<slug:office>/code/", code, name="lottery-code"),
    path("lottery/<slug:office>/requested/", requested, name="lottery-requested"),
    path("lottery/<slug:office>/draw/<int:draw>/numbers.txt", numbers, name="lottery-numbers"),
]
