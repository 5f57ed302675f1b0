"""Holds and booking: the rules a new appointment must meet, a place kept while the applicant
types, and the booking itself (idempotent by its booking key)."""

import dataclasses
import datetime
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from phonenumber_field.phonenumber import to_python

from appointments import schedule
from appointments.errors import BookingError, ErrorCode, duplicate_error
from appointments.models import ACTIVE_STATUSES, Appointment, AppointmentEvent, Closure, Hold, Office, Slot
from appointments.services import lifecycle, places
from appointments.services.erasure import age_band
from appointments.services.places import bounded_lock_waits, places_changed
from appointments.signals import freed_on_commit
from core.limits import ADDRESS_LOCK, PHONE_LOCK, keyed_hash, lock_key
from core.text import foreign_alphanumerics, has_letter, hidden_characters, normalise_code, normalise_name
from eligibility.models import Screening
from eligibility.services import minimise_screenings
from notifications.models import Notification
from notifications.services import notify

logger = logging.getLogger(__name__)
By = AppointmentEvent.By

# No 0/O, 1/I/L, or U (read as V): 30 symbols, 9 of them make 44 random bits.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 9
ADULT_AGE = 18


def _is_closed(office: Office, day: datetime.date) -> bool:
    return Closure.objects.filter(Q(office=office) | Q(office=None), starts_on__lte=day, ends_on__gte=day).exists()


def bookable_window(office: Office, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The first and the (excluded) last instant a new appointment may start at this office."""
    last_day = office.local_today(now) + datetime.timedelta(days=office.horizon_days + 1)
    return now + datetime.timedelta(hours=office.min_notice_hours), schedule.to_utc(
        last_day, datetime.time(), office.zone
    )


def check_slot_bookable(slot: Slot, *, screening: Screening, now: datetime.datetime, walk_in: bool = False) -> None:
    """Raise BookingError unless a new appointment for this screening may start in this slot. A
    walk-in (the desk booking a person who is at the office) takes a free place of today without
    the minimum notice."""
    office = slot.office
    if slot.starts_at <= now:
        raise BookingError(_("This time has already passed. Please choose another one."), code=ErrorCode.UNAVAILABLE)
    earliest, end = bookable_window(office, now)
    if walk_in and slot.local_start().date() != office.local_today(now):
        raise BookingError(
            _("A person at the desk can be booked into a time of today only."), code=ErrorCode.UNAVAILABLE
        )
    if slot.starts_at < earliest and not walk_in:
        raise BookingError(
            _("Appointments must be booked at least %(hours)s hours ahead. Please choose a later time.")
            % {"hours": office.min_notice_hours},
            code=ErrorCode.UNAVAILABLE,
        )
    if slot.starts_at >= end:
        raise BookingError(
            _("Appointments can be booked up to %(days)s days ahead. Please choose an earlier day.")
            % {"days": office.horizon_days},
            code=ErrorCode.UNAVAILABLE,
        )
    if not office.active:
        raise BookingError(_("This office is not taking bookings at the moment."), code=ErrorCode.UNAVAILABLE)
    if slot.capacity == 0 or _is_closed(office, slot.local_start().date()):
        raise BookingError(
            _("The office is closed at this time. Please choose another day."), code=ErrorCode.UNAVAILABLE
        )
    if not office.pathways.filter(code__in=screening.eligible_pathways).exists():
        raise BookingError(
            _("This office does not handle the pathways your answers may fit. Please choose another office."),
            code=ErrorCode.UNAVAILABLE,
        )


def check_screening(screening: Screening, *, now: datetime.datetime) -> None:
    if not screening.eligible_pathways:
        raise BookingError(_("This screening does not allow booking an appointment."), code=ErrorCode.SCREENING)
    if screening.created_at < now - datetime.timedelta(days=settings.SCREENING_VALID_DAYS):
        raise BookingError(
            _("Your answers are more than %(days)s days old. Please answer the questions again before booking.")
            % {"days": settings.SCREENING_VALID_DAYS},
            code=ErrorCode.SCREENING,
        )


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_date_of_birth(born: datetime.date, *, today: datetime.date) -> None:
    if born > today:
        raise BookingError(_("The date of birth cannot be in the future."), code=ErrorCode.INVALID)
    if age_on(born, today) < ADULT_AGE:
        raise BookingError(
            _("The person booking must be %(age)s or older. Family members under %(age)s attend with an adult.")
            % {"age": ADULT_AGE},
            code=ErrorCode.INVALID,
        )


def check_party_size(size: int, *, office: Office) -> None:
    if not 1 <= size <= office.max_party_size:
        raise BookingError(
            _("This office can receive at most %(count)s people per appointment.") % {"count": office.max_party_size},
            code=ErrorCode.INVALID,
        )


def normalise_document_number(number: str) -> str:
    """Compare document numbers the way people mean them: no spaces, dashes or dots, any case,
    full-width or not (core.text.normalise_code). Letters and digits with no ASCII spelling are
    refused, not dropped: "AÉ123" or a Cyrillic A (U+0410, which looks like a Latin A) would make
    a second "different" document, and the one-appointment-per-document rule would not see it."""
    foreign = foreign_alphanumerics(number)
    if foreign:
        raise BookingError(
            _(
                "Enter the document number with the letters A to Z and the numbers 0 to 9 only, as printed "
                "on the document. Retype: %(characters)s"
            )
            % {"characters": " ".join(foreign)},
            code=ErrorCode.INVALID,
        )
    return normalise_code(number)


def check_name(name: str, *, companion: int | None = None) -> str:
    """A name as it is stored (`core.text.normalise_name`), refused when it hides characters that
    change how it is shown (a right-to-left override shows it reversed in the admin and the
    e-mail; a zero-width space makes one name look like another) or has no letter.
    `companion` is the number of the family member (2, 3, ...); None for the applicant."""
    name = normalise_name(name)
    if hidden_characters(name):
        message = (
            _(
                "Your full name contains a hidden character that changes how text is shown. Type your name "
                "again instead of copying and pasting it."
            )
            if companion is None
            else _(
                "The name of family member %(n)s contains a hidden character that changes how text is shown. "
                "Type the name again instead of copying and pasting it."
            )
            % {"n": companion}
        )
        raise BookingError(message, code=ErrorCode.INVALID)
    if not has_letter(name):
        message = (
            _("Enter your name in letters.")
            if companion is None
            else _("Enter the name of family member %(n)s in letters.") % {"n": companion}
        )
        raise BookingError(message, code=ErrorCode.INVALID)
    return name


# ---------------------------------------------------------------------------------------------
# Holds
# ---------------------------------------------------------------------------------------------
def hold_slot(
    *,
    slot_id: int,
    screening: Screening,
    replaces: uuid.UUID | None = None,
    moving: bool = False,
    walk_in: bool = False,
    address: str = "",
    now: datetime.datetime | None = None,
) -> Hold:
    """Keep a place in the slot for the applicant's session for the office's hold time. The hold
    the session had before, and any other hold of the same screening, are released in the same
    transaction; the details typed with the session's previous hold come along while that hold
    lasts (never another browser's). Moving an existing appointment does not need a recent
    screening.

    `address` is the keyed hash of the client's address (core.limits.client_key; "" for staff and
    moves): it may have at most HOLD_LIVE_PER_ADDRESS live holds, the ones this call gives back
    not counted (BookingError LIMIT, with the time the first of them runs out)."""
    now = now or timezone.now()
    if not moving:
        check_screening(screening, now=now)
    with transaction.atomic(durable=True), bounded_lock_waits():
        # Requests from one address queue here, so each counts what the one before it held.
        lock_key(ADDRESS_LOCK, address)
        # One hold per screening even when its browsers ask at the same moment: they queue here.
        Screening.objects.select_for_update().filter(pk=screening.pk).first()
        details = held_details(token=replaces, now=now)
        # The session's previous hold and any other of the same screening are given back.
        others = Hold.objects.filter(Q(token=replaces) | Q(screening=screening))
        if address:
            _check_live_holds(address, others, now)
        held = dict(others.values_list("token", "slot_id"))
        slot = places.lock_slots(slot_id, *held.values())[slot_id]
        for token in held:
            places.release_held_place(token)
        check_slot_bookable(slot, screening=screening, now=now, walk_in=walk_in)
        places.purge_expired_in(slot, now)
        places.take_place(slot)
        return Hold.objects.create(
            slot=slot,
            screening=screening,
            token=uuid.uuid4(),
            expires_at=now + datetime.timedelta(minutes=slot.office.hold_minutes),
            details=details,
            address_key=address,
        )


def _check_live_holds(address: str, replaced: Any, now: datetime.datetime) -> None:
    live = Hold.objects.filter(address_key=address, expires_at__gt=now).exclude(pk__in=replaced.values("pk"))
    ends = sorted(live.values_list("expires_at", flat=True))
    cap = settings.HOLD_LIVE_PER_ADDRESS
    if len(ends) >= cap:
        # When the oldest holds run out, one fewer than the cap is left (a cap of 0: never).
        first = ends[len(ends) - cap] if cap > 0 else None
        raise BookingError(
            _(
                "Too many times are held from this connection at once (at most %(count)s). Finish one of those "
                "bookings, or wait until one of the times held runs out. Your choice is kept on this page."
            )
            % {"count": cap},
            code=ErrorCode.LIMIT,
            retry_at=first,
        )


def keep_details(*, token: uuid.UUID | None, details: dict[str, Any], now: datetime.datetime | None = None) -> bool:
    """Keep what the applicant typed with their hold, for as long as the hold lasts: it goes with
    the hold when the booking is made, when the place is given back, or when the hold expires
    (the per-minute purge deletes it). False when the hold has already expired or gone."""
    if token is None:
        return False
    return bool(Hold.objects.filter(token=token, expires_at__gt=now or timezone.now()).update(details=details))


def held_details(*, token: uuid.UUID | None, now: datetime.datetime | None = None) -> dict[str, Any] | None:
    """What was typed with this hold, while it lasts (an expired hold not purged yet has none)."""
    if token is None:
        return None
    held = Hold.objects.filter(token=token, expires_at__gt=now or timezone.now())
    return held.values_list("details", flat=True).first()


def release_hold(*, token: uuid.UUID) -> None:
    with transaction.atomic(durable=True), bounded_lock_waits():
        slot_id = places.hold_slot_id(token)
        if slot_id is not None:
            slot = places.lock_slots(slot_id)[slot_id]
            places.release_held_place(token)
            freed_on_commit(office_id=slot.office_id, slot_id=slot_id)


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
                places.purge_expired_in(slot, now)
                purged += before - slot.taken
                places_changed(slot.office_id)
                if slot.taken < before:
                    freed_on_commit(office_id=slot.office_id, slot_id=slot_id)
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


def _as_stored(details: ApplicantDetails) -> ApplicantDetails:
    """The details in the one spelling they are stored and compared in; refused (BookingError)
    when a name or the document number cannot be (see `check_name`, `normalise_document_number`)."""
    companions = [
        {**person, "name": check_name(str(person.get("name", "")), companion=n)}
        for n, person in enumerate(details.companions, start=2)
    ]
    return dataclasses.replace(
        details,
        full_name=check_name(details.full_name),
        document_number=normalise_document_number(details.document_number),
        companions=companions,
    )


def new_reference() -> str:
    while True:
        reference = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if not Appointment.objects.filter(reference=reference).exists():
            return reference


def _end_missed_appointments(details: ApplicantDetails, now: datetime.datetime) -> None:
    """The end-of-day run, early for this person: a booked appointment whose day is over at its
    office is a no-show, and no longer the person's active one. `details` are as stored."""
    missed = Appointment.objects.select_for_update(of=("self",)).select_related("slot", "office")
    missed = missed.filter(
        status=Appointment.Status.BOOKED,
        document_type=details.document_type,
        document_number=details.document_number,
        document_country=details.document_country,
        slot__ends_at__lte=now,
    )
    for appointment in missed:
        if appointment.slot.local_start().date() < appointment.office.local_today(now):
            # Imported here: changes.py builds on this module's rules.
            from appointments.services.changes import end_missed_appointment

            end_missed_appointment(appointment, now=now)


def check_phone_may_book(
    phone: Any, *, now: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> None:
    """Raise the BookingError a booking for this number would get for the appointments it has
    already (ACTIVE_APPOINTMENTS_PER_PHONE): checked before a code is sent to it, so no SMS is
    spent on a booking that would be refused. Booking checks again, under the number's lock.
    `until`: only the appointments not over by then (a lottery's places are booked after its close)."""
    _check_appointments_per_phone(phone, now or timezone.now(), until)


def _check_appointments_per_phone(phone: Any, now: datetime.datetime, until: datetime.datetime | None = None) -> None:
    """At most ACTIVE_APPOINTMENTS_PER_PHONE appointments not yet over per phone number, whoever
    books (staff on a person's behalf too). A booked appointment whose time has ended no longer
    counts (it is a no-show in waiting), so the first to end says when to try again. A move keeps
    the count: it never comes here. Counted `until` a time ahead (a lottery's close), an
    appointment over by then does not count, whatever its status now."""
    active = Appointment.objects.filter(phone=phone, status__in=ACTIVE_STATUSES)
    if until is not None:
        active = active.filter(slot__ends_at__gt=until)
    else:
        active = active.filter(~Q(status=Appointment.Status.BOOKED) | Q(slot__ends_at__gt=now))
    ends = sorted(active.values_list("slot__ends_at", flat=True))
    cap = settings.ACTIVE_APPOINTMENTS_PER_PHONE
    if len(ends) >= cap:
        raise BookingError(
            ngettext(
                "This mobile phone number already has %(count)s appointment that has not taken place yet, "
                "the most one number can have. Give the mobile number of the person who will attend, or "
                "cancel that appointment with “Manage an appointment”. Your details are kept.",
                "This mobile phone number already has %(count)s appointments that have not taken place yet, "
                "the most one number can have. Give the mobile number of the person who will attend, or "
                "cancel one of those appointments with “Manage an appointment”. Your details are kept.",
                len(ends),
            )
            % {"count": len(ends)},
            code=ErrorCode.LIMIT,
            retry_at=max(ends[len(ends) - cap], now + datetime.timedelta(minutes=1)) if cap > 0 else None,
        )


def book_appointment(
    *,
    screening: Screening,
    slot_id: int,
    details: ApplicantDetails,
    booking_key: uuid.UUID,
    hold: uuid.UUID | None = None,
    actor: AbstractBaseUser | None = None,
    walk_in: bool = False,
    now: datetime.datetime | None = None,
    screened_by: datetime.datetime | None = None,
) -> Appointment:
    """Book the slot for the applicant, converting their hold when it is still valid. `actor` is
    the staff member booking on the person's behalf (None: the applicant themselves).
    `screened_by` is when the screening had to be recent enough (default: now); a lottery offer
    passes the time of the request it was made with, since the draw's wait is not the person's.

    The booking key makes the call idempotent: the same key again (a double click, a replayed
    POST) returns the appointment it already made."""
    by = By.STAFF if actor is not None else By.APPLICANT
    now = now or timezone.now()
    existing = Appointment.objects.filter(booking_key=booking_key).first()
    if existing is not None:
        return existing
    check_screening(screening, now=screened_by or now)
    details = _as_stored(details)
    phone = to_python(details.phone)
    phone_key = keyed_hash(phone.as_e164, purpose="phone") if phone and phone.is_valid() else ""
    try:
        with transaction.atomic(durable=True), bounded_lock_waits():
            # Bookings for one phone number queue here (before the slot's lock, the busy one), so
            # each counts what the one before it booked.
            lock_key(PHONE_LOCK, phone_key)
            slot = places.lock_slots(slot_id)[slot_id]
            existing = Appointment.objects.filter(booking_key=booking_key).first()
            if existing is not None:
                return existing
            check_slot_bookable(slot, screening=screening, now=now, walk_in=walk_in and actor is not None)
            check_date_of_birth(details.date_of_birth, today=slot.local_start().date())
            check_party_size(details.party_size, office=slot.office)
            _end_missed_appointments(details, now)
            if phone_key:
                _check_appointments_per_phone(phone, now)
            if hold is not None and Hold.objects.filter(token=hold, slot=slot, expires_at__gt=now).delete()[0]:
                pass  # the hold's place becomes the appointment's: `taken` does not change
            else:
                places.purge_expired_in(slot, now)
                places.take_place(slot)
            appointment = Appointment(
                reference=new_reference(),
                office=slot.office,
                slot=slot,
                screening=screening,
                booking_key=booking_key,
                consent_at=now,
                full_name=details.full_name,
                date_of_birth=details.date_of_birth,
                age_band=age_band(details.date_of_birth, slot.local_start().date()),
                nationality=details.nationality,
                document_type=details.document_type,
                document_number=details.document_number,
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
                raise BookingError(" ".join(exc.messages), code=ErrorCode.INVALID) from exc
            appointment.save()
            lifecycle.log_event(
                appointment,
                AppointmentEvent.Action.BOOKED,
                actor,
                by=by,
                at=now,
                slot=slot.pk,
                **({"walk_in": True} if walk_in else {}),
            )
            notify(appointment=appointment, kind=Notification.Kind.CONFIRMATION, now=now)
            # The screening now belongs to a named person: it keeps only what booking and the
            # statistics need.
            minimise_screenings(ids=[screening.pk], now=now)
            return appointment
    except IntegrityError as exc:
        # Two requests for the same document, or the same key, raced past the checks above.
        existing = Appointment.objects.filter(booking_key=booking_key).first()
        if existing is not None:
            return existing
        if "appointments_one_active_per_document" in str(exc):
            raise duplicate_error() from exc
        raise
