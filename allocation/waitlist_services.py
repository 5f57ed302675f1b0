"""The waitlist of first-come offices: joining, offering a freed place, taking, declining or
leaving it, and the upkeep that passes an offer on when it was not taken in time.

A place given back (appointments.signals.place_freed: a cancellation, a move's old slot, a hold
released or expired) is offered to the first person waiting at that office for whom it fits: a hold
of the appointments app on that slot, lasting WAITLIST_OFFER_MINUTES, with their details kept with
it, and an SMS with a link to take it. The offer is written in one transaction that locks the slot
(appointments' own place-taking functions) and the chosen entry (`SKIP LOCKED`, one at a time), so
two places freed at once go to two people and no slot goes over its capacity (the counter's CHECK
guards it too)."""

import contextlib
import datetime
import hashlib
import hmac
import logging
import secrets
import uuid
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from allocation.models import WaitlistEntry
from appointments.errors import BookingError, ErrorCode, duplicate_error
from appointments.models import ACTIVE_STATUSES, Appointment, Hold, Office, Slot
from appointments.selectors import with_places_left
from appointments.services import places
from appointments.services.booking import (
    ApplicantDetails,
    book_appointment,
    bookable_window,
    check_phone_may_book,
    check_screening,
    check_slot_bookable,
    keep_details,
    normalise_document_number,
)
from appointments.services.places import bounded_lock_waits
from appointments.signals import freed_on_commit
from eligibility.models import Screening
from notifications.models import Notification
from notifications.services import notify_person

logger = logging.getLogger(__name__)
Status = WaitlistEntry.Status


class Action(StrEnum):
    OFFER = "offer"
    TAKE = "take"
    DECLINE = "decline"
    MISS = "miss"
    LEAVE = "leave"
    LAPSE = "lapse"
    BOOKED_ELSEWHERE = "booked_elsewhere"


# The one table of the waitlist's lifecycle: action → (from, to). `change_status` applies it.
TRANSITIONS: dict[Action, tuple[frozenset[str], str]] = {
    Action.OFFER: (frozenset({Status.WAITING}), Status.OFFERED),
    # From "missed", "declined" or "left" too: the person pressed "Take this place" as the offer
    # ran out, or at the same moment as "No thanks" or "Leave", and the booking went through (their
    # appointment exists: it is what counts).
    Action.TAKE: (frozenset({Status.OFFERED, Status.MISSED, Status.DECLINED, Status.LEFT}), Status.BOOKED),
    Action.DECLINE: (frozenset({Status.OFFERED}), Status.DECLINED),
    Action.MISS: (frozenset({Status.OFFERED}), Status.MISSED),
    Action.LEAVE: (frozenset({Status.WAITING, Status.OFFERED}), Status.LEFT),
    Action.LAPSE: (frozenset({Status.WAITING, Status.OFFERED}), Status.LAPSED),
    Action.BOOKED_ELSEWHERE: (frozenset({Status.WAITING, Status.OFFERED}), Status.BOOKED),
}


class WaitlistErrorCode(StrEnum):
    INVALID = "invalid"  # correct what was typed
    ALREADY_WAITING = "already_waiting"  # this document or phone is on the office's list
    HAS_APPOINTMENT = "has_appointment"  # manage the appointment instead
    SCREENING = "screening"  # answer the questions again
    GONE = "gone"  # the offer (or the place on the list) is over
    PHONE_LIMIT = "phone_limit"  # the number has as many appointments as one may: another number
    BUSY = "busy"  # try again in a moment (429)


class WaitlistError(Exception):
    """A waitlist action that cannot be done; the message is translated and safe to show."""

    def __init__(self, message: str, *, code: WaitlistErrorCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def change_status(
    entry: WaitlistEntry, action: Action, *, now: datetime.datetime, fields: tuple[str, ...] = ()
) -> None:
    """Move a locked entry along the table, or raise WaitlistError (GONE)."""
    sources, target = TRANSITIONS[action]
    if entry.status not in sources:
        raise WaitlistError(gone_message(), code=WaitlistErrorCode.GONE)
    entry.status, entry.changed_at = target, now
    entry.save(update_fields=["status", "changed_at", *fields])


def gone_message() -> str:
    return _("This place on the waitlist is no longer open: the offer was taken, declined or has expired.")


# ---------------------------------------------------------------------------------------------
# Links: the secret is only in the SMS; the entry keeps its SHA-256.
# ---------------------------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(16)  # 128 bits; short, so the SMS stays one part
    return token, _digest(token)


def place_url(token: str, language: str) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse("allocation:waitlist-place", args=[token])


def entry_for_token(token: str) -> WaitlistEntry | None:
    """The entry whose link carries this token, or None (compared in constant time)."""
    if not token or len(token) > 64:
        return None
    digest = _digest(token)
    entry = (
        WaitlistEntry.objects.select_related("office", "offer_slot__office", "screening")
        .filter(token_hash=digest)
        .first()
    )
    if entry is None or not hmac.compare_digest(entry.token_hash, digest):
        return None
    return entry


def _sms(entry: WaitlistEntry, event: str, now: datetime.datetime, **details: Any) -> None:
    notify_person(
        kind=Notification.Kind.WAITLIST,
        office=entry.office,
        phone=entry.phone.as_e164,
        language=entry.language,
        details={"event": event, **details},
        now=now,
    )


def _when(slot: Slot, moment: datetime.datetime, language: str, *, hour_only: bool = False) -> str:
    """A time as the SMS says it, in the person's language and the office's time: the day as
    the other SMS write it (templates/notifications/sms.txt), or only the hour (an offer's end,
    within the hour)."""
    with translation.override(language):
        return date_format(moment.astimezone(slot.office.zone), "H:i" if hour_only else _("D j M H:i"))


# ---------------------------------------------------------------------------------------------
# Joining and leaving
# ---------------------------------------------------------------------------------------------
def check_join(
    *, office: Office, screening: Screening, values: dict[str, Any], now: datetime.datetime | None = None
) -> dict[str, Any]:
    """What joining would refuse, read without writing: raises WaitlistError, else returns the
    values with the document number in its stored spelling. The pages run it before a code is sent
    by SMS (allocation.phone_services), so a join that cannot be made sends none."""
    now = now or timezone.now()
    values, document = _checked(screening, values, now)
    _refuse_to_join(office, values, document, now)
    return values


def _checked(
    screening: Screening, values: dict[str, Any], now: datetime.datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        check_screening(screening, now=now)
        number = normalise_document_number(str(values.get("document_number", "")))
    except BookingError as exc:
        code = WaitlistErrorCode.SCREENING if exc.code == ErrorCode.SCREENING else WaitlistErrorCode.INVALID
        raise WaitlistError(exc.message, code=code) from exc
    if not number:
        raise WaitlistError(_("Enter the document number."), code=WaitlistErrorCode.INVALID)
    values = {**values, "document_number": number}
    document = {
        "document_type": values["document_type"],
        "document_number": number,
        "document_country": values["document_country"],
    }
    return values, document


def _refuse_to_join(office: Office, values: dict[str, Any], document: dict[str, str], now: datetime.datetime) -> None:
    """Raise WaitlistError for what joining refuses: an appointment for the document already, the
    document or number on the list already, or a number at ACTIVE_APPOINTMENTS_PER_PHONE."""
    if Appointment.objects.filter(status__in=ACTIVE_STATUSES, **document).exists():
        raise WaitlistError(duplicate_error().message, code=WaitlistErrorCode.HAS_APPOINTMENT)
    on_list = WaitlistEntry.objects.filter(office=office, status__in=[Status.WAITING, Status.OFFERED])
    if on_list.filter(Q(**document) | Q(phone=values["phone"])).exists():
        raise already_waiting()
    try:
        # A number with its appointments already (ACTIVE_APPOINTMENTS_PER_PHONE) could not take
        # the place offered: it would be held for nobody. Taking checks again.
        check_phone_may_book(values["phone"], now=now)
    except BookingError as exc:
        raise WaitlistError(exc.message, code=WaitlistErrorCode.PHONE_LIMIT) from exc


def join_waitlist(
    *, office: Office, screening: Screening, values: dict[str, Any], now: datetime.datetime | None = None
) -> tuple[WaitlistEntry, str]:
    """Put the person on the office's waitlist, after everyone already on it. `values` are the
    booking's details as typed (appointments.forms.DetailsForm.as_typed). One entry per identity
    document and per phone number at an office; nobody with an active appointment. Returns the
    entry and the secret of its link (sent by SMS)."""
    now = now or timezone.now()
    values, document = _checked(screening, values, now)
    token, digest = _new_token()
    try:
        with transaction.atomic(durable=True):
            _refuse_to_join(office, values, document, now)
            entry = WaitlistEntry.objects.create(
                office=office,
                screening=screening,
                joined_at=now,
                changed_at=now,
                token_hash=digest,
                full_name=values["full_name"],
                phone=values["phone"],
                language=values["language"],
                party_size=values.get("party_size", 1),
                details=values,
                **document,
            )
            _sms(entry, "joined", now, url=place_url(token, entry.language))
    except IntegrityError as exc:
        # Two joins for the same document or phone raced past the check above.
        raise already_waiting() from exc
    return entry, token


def already_waiting() -> WaitlistError:
    return WaitlistError(
        _(
            "This identity document or mobile phone number is already on this office's waitlist. We will send "
            "an SMS when a place is free: you do not need to join again."
        ),
        code=WaitlistErrorCode.ALREADY_WAITING,
    )


def position(entry: WaitlistEntry) -> int:
    """How many people are ahead of this entry on its office's list."""
    ahead = WaitlistEntry.objects.filter(office_id=entry.office_id, status__in=[Status.WAITING, Status.OFFERED])
    return ahead.filter(Q(joined_at__lt=entry.joined_at) | Q(joined_at=entry.joined_at, pk__lt=entry.pk)).count()


def leave_waitlist(*, entry_id: int, now: datetime.datetime | None = None) -> None:
    """The person leaves the list; a place offered to them goes to the next person."""
    _end(entry_id, Action.LEAVE, now or timezone.now())


def decline_offer(*, entry_id: int, now: datetime.datetime | None = None) -> None:
    """ "No thanks": the place goes to the next person at once, and the entry leaves the list."""
    _end(entry_id, Action.DECLINE, now or timezone.now())


def _end(entry_id: int, action: Action, now: datetime.datetime) -> WaitlistEntry:
    """End the entry by `action`, giving back the place held for its offer. An offer whose
    booking went through meanwhile ends as booked instead."""
    with transaction.atomic(durable=True), bounded_lock_waits():
        entry = WaitlistEntry.objects.select_for_update(of=("self",)).select_related("office").filter(pk=entry_id)
        entry = entry.first()
        if entry is None:
            raise WaitlistError(gone_message(), code=WaitlistErrorCode.GONE)
        if entry.status == Status.OFFERED:
            booked = Appointment.objects.filter(booking_key=entry.booking_key).first()
            if booked is not None:
                entry.appointment = booked
                change_status(entry, Action.TAKE, now=now, fields=("appointment",))
                return entry
            _give_back(entry)
        change_status(entry, action, now=now)
        if action == Action.MISS:
            _sms(entry, "missed", now, url=settings.SITE_URL + _questions_path(entry.language))
        return entry


def _lapse(entry: WaitlistEntry, now: datetime.datetime) -> None:
    change_status(entry, Action.LAPSE, now=now)
    questions = settings.SITE_URL + _questions_path(entry.language)
    _sms(entry, "lapsed", now, days=settings.SCREENING_VALID_DAYS, url=questions)


def _questions_path(language: str) -> str:
    with translation.override(language):
        return reverse("eligibility:begin")


def _give_back(entry: WaitlistEntry) -> None:
    """Give back the place held for this entry's offer (if its hold still exists) and tell the
    waitlist, after commit, that it is free."""
    slot_id = places.hold_slot_id(entry.offer_hold)
    if slot_id is None:
        return
    places.lock_slots(slot_id)
    places.release_held_place(entry.offer_hold)
    freed_on_commit(office_id=entry.office_id, slot_id=slot_id)


# ---------------------------------------------------------------------------------------------
# Offering a freed place
# ---------------------------------------------------------------------------------------------
def offer_freed_place(*, slot_id: int, now: datetime.datetime | None = None) -> WaitlistEntry | None:
    """Offer one free place of this slot to the first person waiting at its office for whom it
    fits. Returns the entry offered it, or None (no free place, nobody it fits, or the slot is no
    longer bookable). Safe to run twice: each run takes at most one place, only if one is free."""
    now = now or timezone.now()
    try:
        with transaction.atomic(durable=True), bounded_lock_waits():
            slot = places.lock_slots(slot_id)[slot_id]
            return _offer_in(slot, now)
    except BookingError as exc:
        if exc.code == ErrorCode.BUSY:
            raise
        return None  # the slot is gone, or filled while we looked


def _slot_open(slot: Slot, now: datetime.datetime) -> bool:
    """Whatever the person: still in the office's booking window, with places, office active and
    first come (a lottery office's places go by its draw, never to its waitlist in join order)."""
    earliest, end = bookable_window(slot.office, now)
    return (
        slot.office.active
        and slot.office.allocation == Office.Allocation.FIRST_COME
        and slot.capacity > 0
        and earliest <= slot.starts_at < end
    )


def _offer_in(slot: Slot, now: datetime.datetime) -> WaitlistEntry | None:
    """In the caller's transaction, with the slot locked."""
    places.purge_expired_in(slot, now)
    if slot.taken >= slot.capacity or not _slot_open(slot, now):
        return None
    passed: list[int] = []
    while True:
        # One entry at a time, skipping those another offer has locked: two places freed at once
        # go to the first two people, never both to the first.
        entry = (
            WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("screening", "office")
            .filter(office_id=slot.office_id, status=Status.WAITING)
            .exclude(pk__in=passed)
            .order_by("joined_at", "pk")
            .first()
        )
        if entry is None:
            return None
        if not _fits(entry, slot, now):
            passed.append(entry.pk)
            continue
        _hold_for(entry, slot, now)
        return entry


def _fits(entry: WaitlistEntry, slot: Slot, now: datetime.datetime) -> bool:
    """Whether this slot can be offered to this entry; an entry that can no longer be offered
    anything leaves the list here (answers too old, an appointment booked meanwhile)."""
    try:
        check_screening(entry.screening, now=now)
    except BookingError:
        _lapse(entry, now)
        return False
    document = {name: getattr(entry, name) for name in ("document_type", "document_number", "document_country")}
    if Appointment.objects.filter(status__in=ACTIVE_STATUSES, **document).exists():
        change_status(entry, Action.BOOKED_ELSEWHERE, now=now)
        return False
    # Someone waiting at two offices gets one offer at a time.
    if WaitlistEntry.objects.filter(status=Status.OFFERED, **document).exclude(pk=entry.pk).exists():
        return False
    if entry.party_size > slot.office.max_party_size:
        return False
    try:
        # A number that has booked its last allowed appointment since joining could not take the
        # place: it is not held for it (the entry keeps its turn, for when one is over).
        check_phone_may_book(entry.phone, now=now)
        check_slot_bookable(slot, screening=entry.screening, now=now)
    except BookingError:
        return False
    return True


def _hold_for(entry: WaitlistEntry, slot: Slot, now: datetime.datetime) -> None:
    places.take_place(slot)
    expires = now + datetime.timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)
    hold = Hold.objects.create(slot=slot, screening=entry.screening, token=uuid.uuid4(), expires_at=expires)
    keep_details(token=hold.token, details=entry.details, now=now)
    token, digest = _new_token()
    entry.offer_slot, entry.offer_hold, entry.offer_expires_at = slot, hold.token, expires
    entry.booking_key, entry.token_hash = uuid.uuid4(), digest
    change_status(
        entry,
        Action.OFFER,
        now=now,
        fields=("offer_slot", "offer_hold", "offer_expires_at", "booking_key", "token_hash"),
    )
    _sms(
        entry,
        "offer",
        now,
        when=_when(slot, slot.starts_at, entry.language),
        until=_when(slot, expires, entry.language, hour_only=expires - now <= datetime.timedelta(hours=12)),
        url=place_url(token, entry.language),
        expires_at=expires.isoformat(),
    )


# ---------------------------------------------------------------------------------------------
# Taking the offer
# ---------------------------------------------------------------------------------------------
def _applicant(values: dict[str, Any]) -> ApplicantDetails:
    fields = ApplicantDetails.__dataclass_fields__
    known = {name: value for name, value in values.items() if name in fields}
    return ApplicantDetails(**{**known, "date_of_birth": datetime.date.fromisoformat(values["date_of_birth"])})


def take_offer(*, entry_id: int, now: datetime.datetime | None = None) -> Appointment:
    """Book the place offered, through the same booking service and rules as any booking."""
    now = now or timezone.now()
    entry = WaitlistEntry.objects.select_related("screening").filter(pk=entry_id).first()
    if entry is None or entry.status != Status.OFFERED or entry.offer_expires_at <= now:
        if entry is not None and entry.appointment_id is not None:
            return entry.appointment
        raise WaitlistError(gone_message(), code=WaitlistErrorCode.GONE)
    try:
        appointment = book_appointment(
            screening=entry.screening,
            slot_id=entry.offer_slot_id,
            details=_applicant(entry.details),
            booking_key=entry.booking_key,
            hold=entry.offer_hold,
            now=now,
        )
    except BookingError as exc:
        if exc.code == ErrorCode.BUSY:
            raise WaitlistError(exc.message, code=WaitlistErrorCode.BUSY) from exc
        if exc.code == ErrorCode.LIMIT:
            # The number booked its last allowed appointment since the offer: the offer stays, for
            # the person to cancel one and take this place while it lasts.
            raise WaitlistError(
                _(
                    "This mobile phone number already has as many appointments as one number can have. To "
                    "take this place, cancel one of them with “Manage an appointment” before this offer "
                    "ends: the place is kept for you until then."
                ),
                code=WaitlistErrorCode.PHONE_LIMIT,
            ) from exc
        ending = {ErrorCode.SCREENING: Action.LAPSE, ErrorCode.DUPLICATE: Action.BOOKED_ELSEWHERE}
        with contextlib.suppress(WaitlistError):
            _end(entry.pk, ending.get(exc.code, Action.MISS), now)
        raise WaitlistError(exc.message, code=WaitlistErrorCode.GONE) from exc
    with transaction.atomic(durable=True):
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry_id)
        if entry.status != Status.BOOKED:
            entry.appointment = appointment
            change_status(entry, Action.TAKE, now=now, fields=("appointment",))
    return appointment


# ---------------------------------------------------------------------------------------------
# Upkeep (the per-minute beat task)
# ---------------------------------------------------------------------------------------------
def pass_on_expired_offers(*, now: datetime.datetime | None = None) -> int:
    """Offers not taken in time: the entry leaves the list (an SMS says so) and the place goes
    to the next person (place_freed, after commit)."""
    now = now or timezone.now()
    ended = 0
    due = WaitlistEntry.objects.filter(status=Status.OFFERED, offer_expires_at__lte=now)
    for entry_id in due.order_by("offer_expires_at").values_list("pk", flat=True)[:500]:
        try:
            _end(entry_id, Action.MISS, now)
            ended += 1
        except WaitlistError:
            pass  # taken or ended meanwhile
    return ended


def lapse_old_entries(*, now: datetime.datetime | None = None) -> int:
    """People whose answers are older than SCREENING_VALID_DAYS leave the list (an SMS says so)."""
    now = now or timezone.now()
    too_old = now - datetime.timedelta(days=settings.SCREENING_VALID_DAYS)
    lapsed = 0
    with transaction.atomic(durable=True):
        entries = WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",)).select_related("office")
        for entry in entries.filter(status=Status.WAITING, screening__created_at__lt=too_old).order_by("pk")[:500]:
            _lapse(entry, now)
            lapsed += 1
    return lapsed


def close_booked_entries(*, now: datetime.datetime | None = None) -> int:
    """People waiting who booked an appointment by themselves meanwhile leave the list."""
    now = now or timezone.now()
    booked = Appointment.objects.filter(
        status__in=ACTIVE_STATUSES,
        document_type=OuterRef("document_type"),
        document_number=OuterRef("document_number"),
        document_country=OuterRef("document_country"),
    )
    closed = 0
    with transaction.atomic(durable=True):
        entries = WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
        for entry in entries.filter(Exists(booked), status=Status.WAITING).order_by("pk")[:500]:
            change_status(entry, Action.BOOKED_ELSEWHERE, now=now)
            closed += 1
    return closed


def offer_free_places(*, now: datetime.datetime | None = None, per_office: int = 20) -> int:
    """Free places nobody freed by a signal (a new day opened, a message lost) go to the people
    waiting, earliest time first."""
    now = now or timezone.now()
    offered = 0
    waiting = WaitlistEntry.objects.filter(status=Status.WAITING)
    offices = Office.objects.filter(pk__in=waiting.values("office_id"), active=True)
    for office in offices.filter(allocation=Office.Allocation.FIRST_COME):
        earliest, end = bookable_window(office, now)
        slots = with_places_left(
            Slot.objects.filter(office=office, starts_at__gte=earliest, starts_at__lt=end, capacity__gt=0), now
        )
        for slot_id in slots.filter(places_left__gt=0).order_by("starts_at").values_list("pk", flat=True)[:per_office]:
            if offer_freed_place(slot_id=slot_id, now=now) is not None:
                offered += 1
            elif not waiting.filter(office=office).exists():
                break
    return offered


# ---------------------------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------------------------
def erase_waitlist_entries(*, before: datetime.datetime, now: datetime.datetime, batch: int = 500) -> int:
    """The waitlist's anonymiser, run by `retention`: entries that left the list before `before`
    keep their office, status and times, not who they were. Rows another request holds are left
    for the next run."""
    erased = 0
    ended = WaitlistEntry.objects.filter(erased_at__isnull=True, changed_at__lt=before).exclude(
        status__in=[Status.WAITING, Status.OFFERED]
    )
    while True:
        with transaction.atomic():
            rows = list(ended.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:batch])
            if not rows:
                return erased
            erased += WaitlistEntry.objects.filter(pk__in=rows).update(
                full_name="",
                document_number="",
                phone="",
                details={},
                erased_at=now,
            )
