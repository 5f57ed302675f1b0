"""The lottery of an office (every write of it): opening a window (the seed made, its hash
published), requests (one per identity document and per phone number), the draw at the window's
end, offers of a held place by SMS, confirming (a booking), offers not confirmed in time passed
down the order, and the anonymiser `retention` runs.

The order is public and checkable (docs/lottery.md): each request number's key is
HMAC-SHA256(key = the seed's 64 hex characters as ASCII, message = the number as ASCII), in hex;
the requests sorted by that key, smallest first, are the order. The seed's SHA-256 (of the same
64 characters) is on the office's lottery page from the window's opening; the seed and the list
of numbers from the draw on."""

import datetime
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from allocation.models.lottery import Draw, LotteryRequest
from appointments import schedule
from appointments.errors import BookingError
from appointments.models import Appointment, Hold, Office, Slot
from appointments.services import places
from appointments.services.booking import REFERENCE_ALPHABET, ApplicantDetails, book_appointment, check_phone_may_book
from appointments.services.places import bounded_lock_waits
from notifications.models import Notification
from notifications.services import notify_person

logger = logging.getLogger(__name__)
Status = LotteryRequest.Status
NUMBER_LENGTH = 8

# The one table of a request's status changes (`change_status` applies it).
TRANSITIONS: dict[str, set[str]] = {
    Status.REQUESTED: {Status.OFFERED},
    Status.OFFERED: {Status.BOOKED, Status.PASSED, Status.DECLINED},
    # Confirmed in the instant its offer was being passed down: the booking stands (the place it
    # took was counted like any other, so nothing is overbooked).
    Status.PASSED: {Status.BOOKED},
    Status.DECLINED: {Status.BOOKED},
}
DRAW_TRANSITIONS: dict[str, set[str]] = {
    Draw.Status.SCHEDULED: {Draw.Status.OPEN},
    Draw.Status.OPEN: {Draw.Status.DRAWN},
}


class LotteryErrorCode(StrEnum):
    CLOSED = "closed"  # the window is not open
    DUPLICATE_DOCUMENT = "duplicate_document"
    DUPLICATE_PHONE = "duplicate_phone"
    PHONE_LIMIT = "phone_limit"  # the number has as many appointments as one may: another number
    LINK = "link"  # no offer with this link
    EXPIRED = "expired"  # the offer is over (passed down, or confirmed already elsewhere)
    DECLINED = "declined"  # the person gave the place up
    BOOKED = "booked"  # the place is confirmed already


class LotteryError(Exception):
    """A lottery action that cannot be done; the message is translated and safe to show."""

    def __init__(self, message: str, *, code: LotteryErrorCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransitionError(Exception):
    """A programming error: a change the transition table does not allow."""


# ---------------------------------------------------------------------------------------------
# The seed and the order (pure)
# ---------------------------------------------------------------------------------------------
def hash_seed(seed: str) -> str:
    """The published hash: SHA-256 of the seed's hex text, in hex."""
    return hashlib.sha256(seed.encode("ascii")).hexdigest()


def order_key(seed: str, number: str) -> str:
    return hmac.new(seed.encode("ascii"), number.encode("ascii"), hashlib.sha256).hexdigest()


def draw_order(seed: str, numbers: Iterable[str]) -> list[str]:
    """The request numbers in the drawn order (docs/lottery.md)."""
    return sorted(numbers, key=lambda number: (order_key(seed, number), number))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_number(number: str) -> str:
    return f"{number[:4]}-{number[4:]}"


def _new_number() -> str:
    while True:
        number = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(NUMBER_LENGTH))
        if not LotteryRequest.objects.filter(number=number).exists():
            return number


def change_status(request: LotteryRequest, to: str, *, now: datetime.datetime, **fields: Any) -> None:
    """Move a request (locked by the caller) along the table, with the fields that go with it."""
    if to not in TRANSITIONS.get(request.status, set()):
        raise TransitionError(f"lottery request {request.pk}: {request.status} -> {to}")
    stamp = {
        Status.OFFERED: "offered_at",
        Status.BOOKED: "booked_at",
        Status.PASSED: "passed_at",
        Status.DECLINED: "passed_at",
    }[to]
    fields = {"status": to, stamp: now, **fields}
    for name, value in fields.items():
        setattr(request, name, value)
    request.save(update_fields=list(fields))


def _change_draw(draw: Draw, to: str, **fields: Any) -> None:
    if to not in DRAW_TRANSITIONS.get(draw.status, set()):
        raise TransitionError(f"draw {draw.pk}: {draw.status} -> {to}")
    fields = {"status": to, **fields}
    for name, value in fields.items():
        setattr(draw, name, value)
    draw.save(update_fields=list(fields))


# ---------------------------------------------------------------------------------------------
# Reads for the pages
# ---------------------------------------------------------------------------------------------
def open_draw_of(office: Office, now: datetime.datetime) -> Draw | None:
    return (
        Draw.objects.filter(office=office, status=Draw.Status.OPEN, opens_at__lte=now, closes_at__gt=now)
        .order_by("closes_at")
        .first()
    )


def office_draws(office: Office, now: datetime.datetime) -> dict[str, Any]:
    """What the office's lottery page shows: the window open now, the next one, recent draws."""
    draws = Draw.objects.filter(office=office)
    return {
        "open": open_draw_of(office, now),
        "next": draws.filter(status=Draw.Status.SCHEDULED, opens_at__gt=now).order_by("opens_at").first(),
        "closed": draws.filter(status=Draw.Status.OPEN, closes_at__lte=now).order_by("closes_at").first(),
        "drawn": list(draws.filter(status=Draw.Status.DRAWN).order_by("-drawn_at")[:3]),
    }


def find_offer(token: str) -> LotteryRequest | None:
    """The request this offer link belongs to (the link is stored hashed), or None."""
    hashed = hash_token(token)
    found = LotteryRequest.objects.select_related("draw__office", "slot").filter(offer_token_hash=hashed).first()
    if found is None or not hmac.compare_digest(found.offer_token_hash or "", hashed):
        return None
    return found


# ---------------------------------------------------------------------------------------------
# Draws: save, open, draw
# ---------------------------------------------------------------------------------------------
def lock_office_draws(office_id: int | None) -> None:
    """Inside the caller's transaction: one creation or change of an office's draws at a time, so
    the check that draws do not overlap (Draw.clean) sees the others. The admin takes it before
    the form is checked. A lock that lets rows pointing to the office be written meanwhile."""
    if office_id is not None:
        list(Office.objects.select_for_update(no_key=True).filter(pk=office_id).values_list("pk"))


# What the admin may change of a draw (its form's fields), and only while it is scheduled: its
# status, seed, hash and result are the per-minute task's.
DRAW_TERMS = ["office", "opens_at", "closes_at", "period_start", "period_end"]


def locked_status(draw_id: int) -> str | None:
    """Inside the caller's transaction: the draw's status, its row locked until the end of it (so
    it cannot open meanwhile); None when it is gone."""
    return Draw.objects.select_for_update().filter(pk=draw_id).values_list("status", flat=True).first()


def save_draw(*, draw: Draw, actor: Any = None, now: datetime.datetime | None = None) -> Draw:
    """Create or change a draw (admin); its window opens at once when due. Raises ValidationError
    for a draw that overlaps another of its office (window or days), even one created at the same
    moment (the database's exclusion constraints). A change writes only the draw's terms, and only
    while it is scheduled: a draw opened meanwhile (a form loaded before, Save pressed twice) keeps
    its published hash and terms, whatever the object passed holds."""
    if draw.pk is None:
        draw.created_by = actor
    with transaction.atomic():
        lock_office_draws(draw.office_id)
        if draw.pk is not None and locked_status(draw.pk) != Draw.Status.SCHEDULED:
            draw.refresh_from_db()
            return draw
        draw.full_clean()
        try:
            with transaction.atomic():
                draw.save(update_fields=DRAW_TERMS if draw.pk is not None else None)
        except IntegrityError as exc:
            if "allocation_draw_windows_apart" not in str(exc) and "allocation_draw_periods_apart" not in str(exc):
                raise
            # The other draw committed meanwhile: the check now sees it and says what overlaps.
            draw.full_clean()
            raise
    transaction.on_commit(lambda: open_draw(draw_id=draw.pk, now=now))
    return draw


def open_draw(*, draw_id: int, now: datetime.datetime | None = None) -> Draw | None:
    """Open the window when its time has come: the seed is made and its hash published."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        draw = Draw.objects.select_for_update().filter(pk=draw_id).first()
        if draw is None or draw.status != Draw.Status.SCHEDULED or draw.opens_at > now:
            return draw
        seed = secrets.token_hex(32)
        _change_draw(draw, Draw.Status.OPEN, seed=seed, seed_hash=hash_seed(seed))
        logger.info("lottery window opened draw=%s", draw.pk)
        return draw


def run_draw(*, draw_id: int, now: datetime.datetime | None = None) -> Draw | None:
    """At the window's end: the order from the seed, places offered to the first in it, and the
    others told. Idempotent: a drawn draw is left alone (row lock on the draw)."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        draw = Draw.objects.select_for_update(of=("self",)).select_related("office").filter(pk=draw_id).first()
        if draw is None or draw.status != Draw.Status.OPEN or draw.closes_at > now:
            return draw
        requests = {request.number: request for request in draw.requests.all()}
        for position, number in enumerate(draw_order(draw.seed, requests), start=1):
            requests[number].position = position
        LotteryRequest.objects.bulk_update(requests.values(), ["position"], batch_size=1000)
        free, offered = _fill_offers(draw, now, event="won")
        _change_draw(draw, Draw.Status.DRAWN, drawn_at=now, places=free)
        for request in sorted(requests.values(), key=lambda r: r.position):
            if request.pk not in offered:
                _tell(request, draw.office, "not_drawn", now, position=request.position)
        logger.info("lottery drawn draw=%s requests=%s places=%s", draw.pk, len(requests), free)
        return draw


def expire_offers(*, now: datetime.datetime | None = None) -> int:
    """Offers not confirmed in time pass down the order; returns how many passed."""
    now = now or timezone.now()
    passed = 0
    due = LotteryRequest.objects.filter(status=Status.OFFERED, offer_expires_at__lte=now)
    for draw_id in list(due.values_list("draw_id", flat=True).distinct()):
        with transaction.atomic(durable=True), bounded_lock_waits():
            draw = Draw.objects.select_for_update(of=("self",)).select_related("office").get(pk=draw_id)
            expired = list(due.filter(draw=draw).select_for_update(of=("self",)))
            _fill_offers(draw, now, event="passed_down", releasing=expired)
            for request in expired:
                change_status(request, Status.PASSED, now=now)
                _tell(request, draw.office, "expired", now)
            passed += len(expired)
    return passed


def decline_offer(*, token: str, now: datetime.datetime | None = None) -> LotteryRequest:
    """ "I cannot come": the place offered goes down the order at once, as an offer not confirmed
    in time does (the next person's SMS), and the link no longer works. Raises LotteryError for a
    link that is wrong, over, declined or confirmed already."""
    now = now or timezone.now()
    found = find_offer(token)
    if found is None:
        raise link_error()
    with transaction.atomic(durable=True), bounded_lock_waits():
        draw = Draw.objects.select_for_update(of=("self",)).select_related("office").get(pk=found.draw_id)
        request = draw.requests.select_for_update(of=("self",)).get(pk=found.pk)
        # Confirmed a moment ago (the booking is made before the request is marked): it stands.
        if request.status == Status.OFFERED and Appointment.objects.filter(booking_key=request.booking_key).exists():
            raise offer_error(Status.BOOKED)
        if request.status != Status.OFFERED or request.offer_expires_at <= now:
            raise offer_error(request.status)
        _fill_offers(draw, now, event="passed_down", releasing=[request])
        change_status(request, Status.DECLINED, now=now)
    logger.info("lottery offer declined draw=%s", draw.pk)
    return request


def offer_freed_places(*, now: datetime.datetime | None = None) -> int:
    """Places of a drawn period freed since (a cancellation, an expired hold) go down the order."""
    now = now or timezone.now()
    offered = 0
    waiting = LotteryRequest.objects.filter(status=Status.REQUESTED, position__isnull=False)
    for draw_id in list(
        Draw.objects.filter(status=Draw.Status.DRAWN, period_end__gte=now.date() - datetime.timedelta(days=1))
        .filter(pk__in=waiting.values("draw_id"))
        .values_list("pk", flat=True)
    ):
        with transaction.atomic(durable=True), bounded_lock_waits():
            draw = Draw.objects.select_for_update(of=("self",)).select_related("office").get(pk=draw_id)
            offered += len(_fill_offers(draw, now, event="passed_down")[1])
    return offered


def _period_slots(draw: Draw, now: datetime.datetime) -> list[int]:
    """The period's slots a winner can still confirm in time for (the office's notice included)."""
    office = draw.office
    zone = office.zone
    earliest = now + datetime.timedelta(hours=settings.LOTTERY_CONFIRM_HOURS + office.min_notice_hours)
    start = max(schedule.to_utc(draw.period_start, datetime.time(), zone), earliest)
    end = schedule.to_utc(draw.period_end + datetime.timedelta(days=1), datetime.time(), zone)
    slots = Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end, capacity__gt=0)
    return list(slots.values_list("pk", flat=True))


def _fill_offers(
    draw: Draw, now: datetime.datetime, *, event: str, releasing: Sequence[LotteryRequest] = ()
) -> tuple[int, set[int]]:
    """Inside the caller's transaction, the draw locked: give back the places of `releasing`
    offers, then offer every free place of the period to the next requests in the order. Returns
    the free places found and the ids of the requests offered one."""
    slot_ids = set(_period_slots(draw, now)) | {r.slot_id for r in releasing if r.slot_id}
    if not slot_ids:
        return 0, set()
    # Locked in id order, as every booking locks them: no crosswise waits.
    locked = places.lock_slots(*slot_ids)
    for request in releasing:
        places.release_held_place(request.hold_token)
        if request.slot_id in locked:
            locked[request.slot_id].refresh_from_db(fields=["taken"])
    period = set(_period_slots(draw, now))
    queue = list(
        draw.requests.select_for_update(of=("self",))
        .filter(status=Status.REQUESTED, position__isnull=False)
        .order_by("position")
    )
    free = 0
    offered: set[int] = set()
    for slot in sorted((s for pk, s in locked.items() if pk in period), key=lambda s: (s.starts_at, s.pk)):
        places.purge_expired_in(slot, now)
        free += max(0, slot.capacity - slot.taken)
        while queue and slot.taken < slot.capacity:
            request = queue.pop(0)
            places.take_place(slot)
            _offer(request, slot, now, event=event)
            offered.add(request.pk)
    return free, offered


def _offer(request: LotteryRequest, slot: Slot, now: datetime.datetime, *, event: str) -> None:
    expires = now + datetime.timedelta(hours=settings.LOTTERY_CONFIRM_HOURS)
    hold = Hold.objects.create(slot=slot, screening=None, token=uuid.uuid4(), expires_at=expires)
    token = secrets.token_urlsafe(16)  # 128 bits, 22 characters: a short SMS link
    change_status(
        request,
        Status.OFFERED,
        now=now,
        slot=slot,
        hold_token=hold.token,
        offer_token_hash=hash_token(token),
        offer_expires_at=expires,
    )
    with translation.override(request.language):
        url = settings.SITE_URL + reverse("allocation:lottery-offer", args=[token])
    _tell(request, slot.office, event, now, url=url, when=slot.starts_at, expires=expires)


def _tell(
    request: LotteryRequest,
    office: Office,
    event: str,
    now: datetime.datetime,
    *,
    when: datetime.datetime | None = None,
    expires: datetime.datetime | None = None,
    **details: Any,
) -> None:
    """The person's SMS about their request, in their language (the times written in it, in the
    office's time, are formatted here in that language, short as every SMS writes them: one part)."""
    details = {"event": event, "number": display_number(request.number), **details}
    with translation.override(request.language), timezone.override(office.zone):
        if when is not None:
            details["when"] = date_format(timezone.localtime(when), _("D j M H:i"))
        if expires is not None:
            # The outbox does not send an offer whose time is over.
            details["expires_at"] = expires.isoformat()
            details["until"] = date_format(timezone.localtime(expires), _("D j M H:i"))
    notify_person(
        kind=Notification.Kind.LOTTERY,
        office=office,
        phone=request.phone.as_e164,
        language=request.language,
        details=details,
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Requests and confirming
# ---------------------------------------------------------------------------------------------
def _lock_draw_shared(draw_id: int) -> Draw | None:
    """Requests share the draw's row lock (FOR SHARE: they do not wait on each other), and the
    draw takes it exclusively: no request slips in after the draw read the list."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Draw._meta.db_table} WHERE id = %s FOR SHARE", [draw_id])  # noqa: S608, SLF001
        if cursor.fetchone() is None:
            return None
    return Draw.objects.select_related("office").get(pk=draw_id)


def submit_request(
    *, draw_id: int, screening_id: int, values: dict[str, Any], now: datetime.datetime | None = None
) -> LotteryRequest:
    """A request for a place in the draw, with the details typed (DetailsForm.as_typed: names and
    the document number already in their stored spelling). One per identity document and per
    phone number in a draw: the database's unique constraints decide, so a race gets the same
    clear answer."""
    with transaction.atomic(durable=True):
        draw = _lock_draw_shared(draw_id)
        now = now or timezone.now()
        if draw is None or draw.status != Draw.Status.OPEN or not draw.opens_at <= now < draw.closes_at:
            raise LotteryError(
                _("Requests for this draw are not open now. The office's lottery page says when they open."),
                code=LotteryErrorCode.CLOSED,
            )
        refusal = _phone_refusal(draw, values["phone"])
        if refusal is not None:
            raise refusal
        request = LotteryRequest(
            draw=draw,
            number=_new_number(),
            screening_id=screening_id,
            document_type=values["document_type"],
            document_number=values["document_number"],
            document_country=values["document_country"],
            phone=values["phone"],
            full_name=values["full_name"],
            language=values["language"],
            details=values,
            booking_key=uuid.uuid4(),
        )
        try:
            with transaction.atomic():
                request.save()
        except IntegrityError as exc:
            if "allocation_lottery_one_per_document" in str(exc):
                raise LotteryError(
                    _(
                        "There is already a request for this identity document in this draw. Each person can make "
                        "one request: you will receive an SMS with the result."
                    ),
                    code=LotteryErrorCode.DUPLICATE_DOCUMENT,
                ) from exc
            if "allocation_lottery_one_per_phone" in str(exc):
                raise LotteryError(
                    _(
                        "There is already a request with this mobile phone number in this draw. Each request needs "
                        "its own number, so that each person receives their result."
                    ),
                    code=LotteryErrorCode.DUPLICATE_PHONE,
                ) from exc
            raise
        _tell(request, draw.office, "requested", now, when=draw.closes_at)
        return request


def confirm_offer(*, token: str, now: datetime.datetime | None = None) -> Appointment:
    """Book the place offered (appointments' booking, idempotent by the request's booking key).
    Raises LotteryError for a link that is wrong or over, BookingError for a booking refused."""
    now = now or timezone.now()
    request = find_offer(token)
    if request is None:
        raise link_error()
    if request.status == Status.BOOKED and request.appointment_id:
        return request.appointment
    if request.status != Status.OFFERED or request.offer_expires_at <= now or request.screening_id is None:
        raise offer_error(request.status)
    values = request.details
    appointment = book_appointment(
        screening=request.screening,
        slot_id=request.slot_id,
        details=ApplicantDetails(**{**values, "date_of_birth": datetime.date.fromisoformat(values["date_of_birth"])}),
        booking_key=request.booking_key,
        hold=request.hold_token,
        now=now,
        # The screening was recent enough when the request was made; the draw's wait is not the
        # person's.
        screened_by=request.created_at,
    )
    with transaction.atomic(durable=True):
        request = LotteryRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != Status.BOOKED:
            change_status(request, Status.BOOKED, now=now, appointment=appointment)
    return appointment


def offer_error(status: str) -> LotteryError:
    """Why an offer's link can no longer be used, by the request's status."""
    if status == Status.DECLINED:
        return LotteryError(
            _(
                "You gave up this place, so it went to the next person in the order. This link no longer "
                "works. Thank you for letting us know."
            ),
            code=LotteryErrorCode.DECLINED,
        )
    if status == Status.BOOKED:
        return LotteryError(
            _("This place is already confirmed. Your appointment's reference is in the SMS we sent."),
            code=LotteryErrorCode.BOOKED,
        )
    return LotteryError(
        _("This offer is over: it was not confirmed in time, so the place went to the next person in the order."),
        code=LotteryErrorCode.EXPIRED,
    )


def link_error() -> LotteryError:
    return LotteryError(
        _("This link does not work. Open the link exactly as it came in your SMS, or contact the office."),
        code=LotteryErrorCode.LINK,
    )


def request_refusal(*, draw: Draw, values: dict[str, Any], now: datetime.datetime | None = None) -> LotteryError | None:
    """What `submit_request` would refuse these details for, read without writing (the window; one
    request per document and per phone in the draw), or None. The pages ask before a code is sent
    by SMS (allocation/phone_services.py), so a request that cannot be made sends none;
    `submit_request` decides again, with the database's constraints. The words are its refusals'."""
    now = now or timezone.now()
    if draw.status != Draw.Status.OPEN or not draw.opens_at <= now < draw.closes_at:
        return LotteryError(
            _("Requests for this draw are not open now. The office's lottery page says when they open."),
            code=LotteryErrorCode.CLOSED,
        )
    made = LotteryRequest.objects.filter(draw=draw, erased_at__isnull=True)
    document = {name: values[name] for name in ("document_type", "document_number", "document_country")}
    if made.filter(**document).exists():
        return LotteryError(
            _(
                "There is already a request for this identity document in this draw. Each person can make "
                "one request: you will receive an SMS with the result."
            ),
            code=LotteryErrorCode.DUPLICATE_DOCUMENT,
        )
    if made.filter(phone=values["phone"]).exists():
        return LotteryError(
            _(
                "There is already a request with this mobile phone number in this draw. Each request needs "
                "its own number, so that each person receives their result."
            ),
            code=LotteryErrorCode.DUPLICATE_PHONE,
        )
    return _phone_refusal(draw, values["phone"])


def _phone_refusal(draw: Draw, phone: str) -> LotteryError | None:
    """A number that will still have its appointments when the draw closes
    (ACTIVE_APPOINTMENTS_PER_PHONE) could not confirm a place won: the place would wait for
    nobody until its offer ran out. None when it may request."""
    try:
        check_phone_may_book(phone, until=draw.closes_at)
    except BookingError as exc:
        return LotteryError(exc.message, code=LotteryErrorCode.PHONE_LIMIT)
    return None


# ---------------------------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------------------------
def erase_requests(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """The lottery's anonymiser (run by `retention`): RETENTION_DAYS after the last day of its
    draw's period, a request keeps its number, place in the order, status and times, not who made
    it. Rows another transaction holds are left for the next run."""
    now = now or timezone.now()
    last_day = (now - datetime.timedelta(days=settings.RETENTION_DAYS)).date()
    due = LotteryRequest.objects.filter(erased_at__isnull=True, draw__period_end__lt=last_day)
    erased = 0
    while True:
        with transaction.atomic():
            locked = due.select_for_update(skip_locked=True, of=("self",)).order_by("pk")
            ids = list(locked.values_list("pk", flat=True)[:batch])
            if not ids:
                return erased
            erased += LotteryRequest.objects.filter(pk__in=ids, erased_at__isnull=True).update(
                full_name="", document_number="", phone="", details={}, erased_at=now
            )
