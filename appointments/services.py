"""Writes of the booking: slots from opening hours, holds, booking, moving and cancelling.

Every change that takes or frees a place locks the slot row, re-checks, and writes in one
transaction. The slot's `taken` counter moves in that same transaction, and a CHECK constraint on
it makes overbooking impossible even for a path that forgets the lock (docs/architecture.md)."""

import base64
import bisect
import datetime
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from appointments import schedule
from appointments.models import Appointment, AppointmentEvent, Closure, Hold, Office, OpeningHours, Slot
from core.text import is_ascii_digits, normalise_code
from eligibility.models import Screening
from notifications import services as messages
from notifications.models import Notification

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L, or U (read as V): 30 symbols, 9 of them make 44 random bits.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 9
ADULT_AGE = 18
# PostgreSQL's codes for a lock wait that timed out, a deadlock and a serialisation failure.
BUSY_CODES = {"55P03", "40P01", "40001"}
MANAGE_SALT = "appointments.manage-link"
MANAGE_MAC_LENGTH = 16  # base32 characters: 80 bits


class BookingError(Exception):
    """A booking action that cannot be done; the message is translated and safe to show.

    `code` tells the view what to offer next: "full" and "unavailable" send the applicant back to
    choose another time, "busy" asks them to try again, "duplicate" points to managing the
    existing appointment, "stale" reloads the appointment, "screening" restarts the questions."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def busy_error() -> BookingError:
    return BookingError(
        _("Many people are booking right now. Nothing was changed: please try again in a moment."), code="busy"
    )


@contextmanager
def bounded_lock_waits() -> Iterator[None]:
    """Inside a transaction: give up a lock wait after BOOKING_LOCK_TIMEOUT_MS instead of queueing
    behind a rush, and turn that (or a deadlock) into a "busy" BookingError."""
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.BOOKING_LOCK_TIMEOUT_MS}ms"])
        yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) in BUSY_CODES:
            raise busy_error() from exc
        raise


def availability_key(office_id: int) -> str:
    return f"appointments:availability:{office_id}"


def _bump_availability(office_id: int) -> None:
    """Make cached availability of the office out of date (selectors.times_of_day)."""
    key = availability_key(office_id)
    try:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=None)
    except Exception as exc:  # noqa: BLE001 - a cache outage must not fail a booking; entries expire anyway
        logger.warning("availability version not bumped office=%s error=%s", office_id, type(exc).__name__)


def places_changed(*office_ids: int) -> None:
    """After this transaction commits, cached places of these offices are stale."""
    for office_id in set(office_ids):
        transaction.on_commit(partial(_bump_availability, office_id))


def _lock_slots(*slot_ids: int) -> dict[int, Slot]:
    """Lock the slots in id order (so two changes never wait on each other crosswise). Whatever
    the caller then commits changes places in them, so cached availability is refreshed."""
    slots = Slot.objects.select_for_update(of=("self",)).select_related("office").filter(pk__in=slot_ids)
    found = {slot.pk: slot for slot in slots.order_by("pk")}
    if len(found) != len(set(slot_ids)):
        raise BookingError(_("This time is no longer offered. Please choose another one."), code="unavailable")
    places_changed(*(slot.office_id for slot in found.values()))
    return found


def _is_closed(office: Office, day: datetime.date) -> bool:
    return Closure.objects.filter(Q(office=office) | Q(office=None), starts_on__lte=day, ends_on__gte=day).exists()


def bookable_window(office: Office, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The first and the (excluded) last instant a new appointment may start at this office."""
    last_day = office.local_today(now) + datetime.timedelta(days=office.horizon_days + 1)
    return now + datetime.timedelta(hours=office.min_notice_hours), schedule.to_utc(
        last_day, datetime.time(), office.zone
    )


def check_slot_bookable(slot: Slot, *, screening: Screening, now: datetime.datetime) -> None:
    """Raise BookingError unless a new appointment for this screening may start in this slot."""
    office = slot.office
    if slot.starts_at <= now:
        raise BookingError(_("This time has already passed. Please choose another one."), code="unavailable")
    earliest, end = bookable_window(office, now)
    if slot.starts_at < earliest:
        raise BookingError(
            _("Appointments must be booked at least %(hours)s hours ahead. Please choose a later time.")
            % {"hours": office.min_notice_hours},
            code="unavailable",
        )
    if slot.starts_at >= end:
        raise BookingError(
            _("Appointments can be booked up to %(days)s days ahead. Please choose an earlier day.")
            % {"days": office.horizon_days},
            code="unavailable",
        )
    if not office.active:
        raise BookingError(_("This office is not taking bookings at the moment."), code="unavailable")
    if slot.capacity == 0 or _is_closed(office, slot.local_start().date()):
        raise BookingError(_("The office is closed at this time. Please choose another day."), code="unavailable")
    if not office.pathways.filter(code__in=screening.eligible_pathways).exists():
        raise BookingError(
            _("This office does not handle the pathways your answers may fit. Please choose another office."),
            code="unavailable",
        )


def check_screening(screening: Screening, *, now: datetime.datetime) -> None:
    if not screening.eligible_pathways:
        raise BookingError(_("This screening does not allow booking an appointment."), code="screening")
    if screening.created_at < now - datetime.timedelta(days=settings.SCREENING_VALID_DAYS):
        raise BookingError(
            _("Your answers are more than %(days)s days old. Please answer the questions again before booking.")
            % {"days": settings.SCREENING_VALID_DAYS},
            code="screening",
        )


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_date_of_birth(born: datetime.date, *, today: datetime.date) -> None:
    if born > today:
        raise BookingError(_("The date of birth cannot be in the future."), code="invalid")
    if age_on(born, today) < ADULT_AGE:
        raise BookingError(
            _("The person booking must be %(age)s or older. Family members under %(age)s attend with an adult.")
            % {"age": ADULT_AGE},
            code="invalid",
        )


def check_party_size(size: int, *, office: Office) -> None:
    if not 1 <= size <= office.max_party_size:
        raise BookingError(
            _("This office can receive at most %(count)s people per appointment.") % {"count": office.max_party_size},
            code="invalid",
        )


def normalise_document_number(number: str) -> str:
    """Compare document numbers the way people mean them: no spaces, dashes or dots, any case,
    full-width or not."""
    return normalise_code(number)


def _purge_expired_holds(slot: Slot, now: datetime.datetime) -> None:
    expired, _counts = Hold.objects.filter(slot=slot, expires_at__lte=now).delete()
    if expired:
        Slot.objects.filter(pk=slot.pk).update(taken=F("taken") - expired)
        slot.taken -= expired


def _take_place(slot: Slot) -> None:
    if slot.taken >= slot.capacity:
        raise BookingError(_("This time is now full. Please choose another one."), code="full")
    Slot.objects.filter(pk=slot.pk).update(taken=F("taken") + 1)
    slot.taken += 1


def _release_place(slot_id: int) -> None:
    # Giving back a place a closure left stranded must not reopen it to others.
    Slot.objects.filter(pk=slot_id).update(taken=F("taken") - 1, stranded=Greatest(F("stranded") - 1, 0))


def _hold_slot_id(token: uuid.UUID | None) -> int | None:
    if token is None:
        return None
    return Hold.objects.filter(token=token).values_list("slot_id", flat=True).first()


def _release_hold(token: uuid.UUID | None) -> None:
    """Delete the hold and give its place back; the caller has locked the hold's slot."""
    slot_id = _hold_slot_id(token)
    if slot_id is not None and Hold.objects.filter(token=token).delete()[0]:
        Slot.objects.filter(pk=slot_id).update(taken=F("taken") - 1)


# ---------------------------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------------------------
def hold_slot(
    *,
    slot_id: int,
    screening: Screening,
    replaces: uuid.UUID | None = None,
    moving: bool = False,
    now: datetime.datetime | None = None,
) -> Hold:
    """Keep a place in the slot for the applicant's session for the office's hold time. The hold
    the session had before, and any other hold of the same screening, are released in the same
    transaction. Moving an existing appointment does not need a recent screening."""
    now = now or timezone.now()
    if not moving:
        check_screening(screening, now=now)
    with transaction.atomic(durable=True), bounded_lock_waits():
        # One hold per screening even when its browsers ask at the same moment: they queue here.
        Screening.objects.select_for_update().filter(pk=screening.pk).first()
        # The session's previous hold and any other of the same screening are given back.
        others = Hold.objects.filter(Q(token=replaces) | Q(screening=screening))
        held = dict(others.values_list("token", "slot_id"))
        slot = _lock_slots(slot_id, *held.values())[slot_id]
        for token in held:
            _release_hold(token)
        check_slot_bookable(slot, screening=screening, now=now)
        _purge_expired_holds(slot, now)
        _take_place(slot)
        return Hold.objects.create(
            slot=slot,
            screening=screening,
            token=uuid.uuid4(),
            expires_at=now + datetime.timedelta(minutes=slot.office.hold_minutes),
        )


def release_hold(*, token: uuid.UUID) -> None:
    with transaction.atomic(durable=True), bounded_lock_waits():
        slot_id = _hold_slot_id(token)
        if slot_id is not None:
            _lock_slots(slot_id)
            _release_hold(token)


def purge_expired_holds(*, now: datetime.datetime | None = None) -> int:
    """Give back the places of expired holds; returns how many were purged."""
    now = now or timezone.now()
    purged = 0
    slot_ids = list(Hold.objects.filter(expires_at__lte=now).values_list("slot_id", flat=True).distinct())
    for slot_id in slot_ids:
        with transaction.atomic(durable=True):
            slot = Slot.objects.select_for_update(of=("self",)).filter(pk=slot_id).order_by().first()
            if slot is not None:
                before = slot.taken
                _purge_expired_holds(slot, now)
                purged += before - slot.taken
                places_changed(slot.office_id)
    return purged


# ---------------------------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplicantDetails:
    full_name: str
    date_of_birth: datetime.date
    nationality: str
    document_type: str
    document_number: str
    document_country: str
    phone: Any
    language: str
    email: str = ""
    party_size: int = 1
    companions: list[dict[str, Any]] = field(default_factory=list)


def new_reference() -> str:
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if not Appointment.objects.filter(reference=reference).exists():
            return reference


def duplicate_error() -> BookingError:
    return BookingError(
        _(
            "There is already an appointment for this identity document. Each person can have one "
            "appointment at a time: to see, move or cancel it, use “Manage an appointment” with its "
            "reference and your date of birth."
        ),
        code="duplicate",
    )


def _log(appointment: Appointment, action: str, actor: AbstractBaseUser | None = None, **data: Any) -> None:
    AppointmentEvent.objects.create(appointment=appointment, action=action, actor=actor, data=data)


def _end_past_appointments(details: ApplicantDetails, now: datetime.datetime) -> None:
    """An appointment whose time has gone no longer counts as the person's active one."""
    past = Appointment.objects.select_for_update().filter(
        status=Appointment.Status.BOOKED,
        document_type=details.document_type,
        document_number=normalise_document_number(details.document_number),
        document_country=details.document_country,
        slot__ends_at__lte=now,
    )
    for appointment in past:
        appointment.status = Appointment.Status.PAST
        appointment.state += 1
        appointment.save(update_fields=["status", "state", "updated_at"])
        _log(appointment, AppointmentEvent.Action.ENDED)


def book_appointment(
    *,
    screening: Screening,
    slot_id: int,
    details: ApplicantDetails,
    booking_key: uuid.UUID,
    hold: uuid.UUID | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Book the slot for the applicant, converting their hold when it is still valid.

    The booking key makes the call idempotent: the same key again (a double click, a replayed
    POST) returns the appointment it already made."""
    now = now or timezone.now()
    existing = Appointment.objects.filter(booking_key=booking_key).first()
    if existing is not None:
        return existing
    check_screening(screening, now=now)
    try:
        with transaction.atomic(durable=True), bounded_lock_waits():
            slot = _lock_slots(slot_id)[slot_id]
            existing = Appointment.objects.filter(booking_key=booking_key).first()
            if existing is not None:
                return existing
            check_slot_bookable(slot, screening=screening, now=now)
            check_date_of_birth(details.date_of_birth, today=slot.local_start().date())
            check_party_size(details.party_size, office=slot.office)
            _end_past_appointments(details, now)
            if hold is not None and Hold.objects.filter(token=hold, slot=slot, expires_at__gt=now).delete()[0]:
                pass  # the hold's place becomes the appointment's: `taken` does not change
            else:
                _purge_expired_holds(slot, now)
                _take_place(slot)
            appointment = Appointment(
                reference=new_reference(),
                office=slot.office,
                slot=slot,
                screening=screening,
                booking_key=booking_key,
                consent_at=now,
                full_name=details.full_name.strip(),
                date_of_birth=details.date_of_birth,
                nationality=details.nationality,
                document_type=details.document_type,
                document_number=normalise_document_number(details.document_number),
                document_country=details.document_country,
                phone=details.phone,
                email=details.email,
                language=details.language,
                party_size=details.party_size,
                companions=details.companions,
            )
            try:
                appointment.full_clean()
            except ValidationError as exc:
                if "__all__" in exc.message_dict:
                    raise duplicate_error() from exc
                raise BookingError(" ".join(exc.messages), code="invalid") from exc
            appointment.save()
            _log(appointment, AppointmentEvent.Action.BOOKED, slot=slot.pk)
            messages.notify(appointment=appointment, kind=Notification.Kind.CONFIRMATION, now=now)
            return appointment
    except IntegrityError as exc:
        # Two requests for the same document, or the same key, raced past the checks above.
        existing = Appointment.objects.filter(booking_key=booking_key).first()
        if existing is not None:
            return existing
        if "appointments_one_active_per_document" in str(exc):
            raise duplicate_error() from exc
        raise


def _token_mac(appointment_id: int, state: int) -> str:
    digest = salted_hmac(MANAGE_SALT, f"{appointment_id}-{state}", algorithm="sha256").digest()
    return base64.b32encode(digest).decode()[:MANAGE_MAC_LENGTH].lower()


def manage_token(appointment: Appointment) -> str:
    """The signed part of a manage link: the appointment, its state (so the link stops working
    once the appointment is moved or cancelled) and an HMAC. Short enough for an SMS."""
    return f"{appointment.pk}-{appointment.state}-{_token_mac(appointment.pk, appointment.state)}"


def appointment_from_token(token: str) -> Appointment:
    invalid = BookingError(
        _(
            "This link is no longer valid: the appointment was changed or cancelled after it was sent. "
            "Use the link in your latest message, or your reference and date of birth."
        ),
        code="stale",
    )
    parts = token.split("-")
    if len(parts) != 3 or not all(map(is_ascii_digits, parts[:2])) or len(parts[0]) > 18 or len(parts[1]) > 9:
        raise invalid
    appointment_id, state = int(parts[0]), int(parts[1])
    if not constant_time_compare(parts[2], _token_mac(appointment_id, state)):
        raise invalid
    appointment = Appointment.objects.filter(pk=appointment_id, state=state).first()
    if appointment is None or appointment.status != Appointment.Status.BOOKED:
        raise invalid
    return appointment


def _lock_appointment(appointment_id: int, expected_state: int | None, now: datetime.datetime) -> Appointment:
    appointment = Appointment.objects.select_for_update(of=("self",)).select_related("slot").filter(pk=appointment_id)
    appointment = appointment.first()
    if appointment is None or (expected_state is not None and appointment.state != expected_state):
        raise BookingError(_("This appointment was changed in the meantime. Here is how it stands now."), code="stale")
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingError(_("This appointment was cancelled and cannot be changed."), code="stale")
    if appointment.slot.starts_at <= now:
        raise BookingError(_("This appointment has already taken place and cannot be changed."), code="stale")
    return appointment


def cancel_appointment(
    *,
    appointment_id: int,
    expected_state: int | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Cancel the appointment and give its place back. `expected_state` refuses the change when the
    appointment changed since the page that asked for it was shown."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _lock_appointment(appointment_id, expected_state, now)
        _lock_slots(appointment.slot_id)
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = now
        appointment.state += 1
        appointment.save(update_fields=["status", "cancelled_at", "state", "updated_at"])
        _release_place(appointment.slot_id)
        _log(appointment, AppointmentEvent.Action.CANCELLED, actor)
        messages.cancel_reminders(appointment=appointment)
        messages.notify(appointment=appointment, kind=Notification.Kind.CANCELLED, now=now)
        return appointment


def move_appointment(
    *,
    appointment_id: int,
    slot_id: int,
    expected_state: int | None = None,
    hold: uuid.UUID | None = None,
    actor: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Move the appointment to another time at the same office: the new place is taken and the old
    one given back in one transaction, under the same rules as a new booking."""
    now = now or timezone.now()
    with transaction.atomic(durable=True), bounded_lock_waits():
        appointment = _lock_appointment(appointment_id, expected_state, now)
        if slot_id == appointment.slot_id:
            raise BookingError(_("This is already the time of your appointment."), code="unavailable")
        slots = _lock_slots(appointment.slot_id, slot_id)
        slot = slots[slot_id]
        if slot.office_id != appointment.office_id:
            raise BookingError(_("An appointment can only be moved within its office."), code="unavailable")
        check_slot_bookable(slot, screening=appointment.screening, now=now)
        if hold is None or not Hold.objects.filter(token=hold, slot=slot, expires_at__gt=now).delete()[0]:
            _purge_expired_holds(slot, now)
            _take_place(slot)
        _release_place(appointment.slot_id)
        previous = appointment.slot_id
        appointment.slot = slot
        appointment.state += 1
        appointment.save(update_fields=["slot", "state", "updated_at"])
        _log(appointment, AppointmentEvent.Action.MOVED, actor, **{"from": previous, "to": slot.pk})
        messages.cancel_reminders(appointment=appointment)
        messages.notify(appointment=appointment, kind=Notification.Kind.MOVED, now=now)
        messages.schedule_reminders_for(appointment=appointment, now=now)
        return appointment


# ---------------------------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------------------------
@dataclass
class GenerationResult:
    created: int = 0
    deleted: int = 0
    updated: int = 0


def _set_capacity(slot: Slot, capacity: int) -> bool:
    stranded = max(0, slot.taken - capacity)
    if (slot.capacity, slot.stranded) == (capacity, stranded):
        return False
    Slot.objects.filter(pk=slot.pk).update(capacity=capacity, stranded=stranded)
    slot.capacity, slot.stranded = capacity, stranded
    return True


def generate_slots(*, office: Office, now: datetime.datetime | None = None) -> GenerationResult:
    """Make the office's future slots match its opening hours, closures and horizon. Idempotent.

    Slots nothing was ever booked in follow the hours. A slot with a booking or a hold is kept for
    staff to handle: it takes the counters of the hours when it still matches them, and a capacity
    of zero when a closure covers it or the hours no longer include it."""
    now = now or timezone.now()
    zone = office.zone
    first_day = office.local_today(now)
    last_day = first_day + datetime.timedelta(days=office.horizon_days)
    closures = Closure.objects.filter(
        Q(office=office) | Q(office=None), ends_on__gte=first_day, starts_on__lte=last_day
    )
    closed = schedule.closed_days(
        (max(c.starts_on, first_day), min(c.ends_on, last_day)) for c in closures.only("starts_on", "ends_on")
    )
    ranges = [
        schedule.Range(h.weekday, h.opens, h.closes, h.capacity) for h in OpeningHours.objects.filter(office=office)
    ]
    wanted = {
        planned.starts_at: planned
        for planned in schedule.plan(
            first_day=first_day,
            last_day=last_day,
            ranges=ranges if office.active else [],
            closed_days=closed,
            zone=zone,
            slot_minutes=office.slot_minutes,
        )
        if planned.starts_at > now
    }
    result = GenerationResult()
    with transaction.atomic(), bounded_lock_waits():
        # Locked in id order, like every booking, and without the office row bookings depend on.
        existing = list(
            Slot.objects.select_for_update(of=("self",)).filter(office=office, starts_at__gt=now).order_by("pk")
        )
        used = set(Appointment.objects.filter(slot__in=existing).values_list("slot_id", flat=True))
        kept: list[Slot] = []
        for slot in existing:
            planned = wanted.get(slot.starts_at)
            in_use = slot.pk in used or slot.taken > 0
            if not in_use and (planned is None or planned.ends_at != slot.ends_at):
                slot.delete()
                result.deleted += 1
                continue
            kept.append(slot)
            if planned is not None and planned.ends_at == slot.ends_at and slot.local_start().date() not in closed:
                result.updated += _set_capacity(slot, planned.capacity)
            else:
                # Closed, or no longer in the hours: its appointments stay for staff; no one else joins.
                result.updated += _set_capacity(slot, 0)
        # A kept slot that takes no one (closed or out of hours) does not stand in the way, except
        # at its own start time (one slot per office and start).
        kept_starts_all = {slot.starts_at for slot in kept}
        kept = sorted((slot for slot in kept if slot.capacity > 0), key=lambda slot: slot.starts_at)
        kept_starts = [slot.starts_at for slot in kept]

        def overlaps_kept(planned: schedule.PlannedSlot) -> bool:
            # Kept slots never overlap each other, so only the neighbours can overlap the new one.
            i = bisect.bisect_left(kept_starts, planned.ends_at)
            return any(planned.starts_at < k.ends_at and k.starts_at < planned.ends_at for k in kept[max(0, i - 1) : i])

        new = [
            Slot(office=office, starts_at=p.starts_at, ends_at=p.ends_at, capacity=p.capacity)
            for p in wanted.values()
            if p.starts_at not in kept_starts_all and not overlaps_kept(p)
        ]
        Slot.objects.bulk_create(new)
        result.created = len(new)
        places_changed(office.pk)
    return result


def generate_all_slots(*, now: datetime.datetime | None = None) -> GenerationResult:
    """Every office in turn; an office busy with bookings is left for the next run."""
    total = GenerationResult()
    for office in Office.objects.all():
        try:
            result = generate_slots(office=office, now=now)
        except BookingError:
            logger.warning("slot generation postponed office=%s reason=busy", office.pk)
            continue
        total.created += result.created
        total.deleted += result.deleted
        total.updated += result.updated
    return total
