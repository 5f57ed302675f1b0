"""The outbox: writing messages in the transaction of the change they tell of, handing them to the
worker, reminders as appointments enter their window, the SMS quota and the per-minute safety net
(the sending itself is notifications/sending.py).

A row is claimed with a conditional UPDATE (pending → sending) before it is sent, so a task
delivered twice sends once. Tasks are enqueued after commit; if the broker is down then, the row
stays pending and the per-minute dispatcher enqueues it later. No task is scheduled on the broker
with an eta: what is due is in the table."""

import contextlib
import datetime
import logging

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from phonenumber_field.phonenumber import to_python

from appointments.models import Appointment, Office
from core.limits import keyed_hash
from notifications.models import Notification, without_secrets

logger = logging.getLogger(__name__)
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
REMINDER_KINDS = (Kind.REMINDER, Kind.LAST_REMINDER)
SMS_ONLY = (Kind.TURN,)  # at the office: a phone buzzes, an inbox is not read


# ---------------------------------------------------------------------------------------------
# Writing messages (inside the booking change's transaction)
# ---------------------------------------------------------------------------------------------
def _rows(
    appointment: Appointment, kind: str, now: datetime.datetime, details: dict | None = None
) -> list[Notification]:
    common = {
        "details": details or {},
        "appointment": appointment,
        "kind": kind,
        "language": appointment.language,
        "appointment_time": appointment.slot.starts_at,
        "due_at": now,
        "queued_at": now,
    }
    rows = [Notification(channel=Channel.SMS, recipient=appointment.phone.as_e164, **common)]
    if appointment.email and kind not in SMS_ONLY:
        rows.append(Notification(channel=Channel.EMAIL, recipient=appointment.email, **common))
    return rows


REVIVE = {
    "status": Status.PENDING,
    "attempts": 0,
    "claimed_at": None,
    "enqueued_at": None,
    "sent_at": None,
    "provider_message_id": "",
    "last_error": "",
}


def notify(
    *, appointment: Appointment, kind: str, now: datetime.datetime | None = None, details: dict | None = None
) -> list[Notification]:
    """Write the appointment's messages of this kind, in the caller's transaction, and send them
    once it commits; returns the messages that will be sent.

    The constraint keeps one row per appointment, kind, channel and time. When that row exists,
    news (moved back to a time told of before) is sent again from it, once; a reminder is sent
    again only if it had been cancelled (moved away and back before it was due)."""
    now = now or timezone.now()
    ids = []
    for row in _rows(appointment, kind, now, details or {}):
        try:
            with transaction.atomic():
                row.save()
            ids.append(row.pk)
        except IntegrityError:
            existing = Notification.objects.filter(
                appointment=appointment, kind=kind, channel=row.channel, appointment_time=row.appointment_time
            )
            if kind in SMS_ONLY:
                # Called again before the first text left: it leaves with the latest counter.
                existing.filter(status=Status.PENDING).update(details=row.details)
            if kind in REMINDER_KINDS:
                existing = existing.filter(status=Status.CANCELLED)
            else:
                existing = existing.exclude(status__in=[Status.PENDING, Status.SENDING])
            ids.extend(existing.values_list("pk", flat=True))
            existing.update(**REVIVE, due_at=now, queued_at=now, recipient=row.recipient, details=row.details)
    transaction.on_commit(lambda: enqueue(ids))
    return list(Notification.objects.filter(pk__in=ids))


def notify_person(
    *,
    kind: str,
    office: Office,
    phone: str,
    language: str,
    details: dict | None = None,
    now: datetime.datetime | None = None,
) -> Notification:
    """Write an SMS to a person who has no appointment (yet): a phone code, waitlist or lottery
    news. Its text is `templates/notifications/person/<kind>.sms.txt`, rendered in `language`
    with `details` and the office; it is sent once the caller's transaction commits."""
    now = now or timezone.now()
    row = Notification.objects.create(
        office=office,
        kind=kind,
        channel=Channel.SMS,
        recipient=phone,
        language=language,
        due_at=now,
        queued_at=now,
        details=details or {},
    )
    transaction.on_commit(lambda: enqueue([row.pk]))
    return row


def cancel_reminders(*, appointment: Appointment) -> int:
    """Reminders not sent yet will not be: the appointment was cancelled or moved."""
    return Notification.objects.filter(
        appointment=appointment, kind__in=REMINDER_KINDS, status__in=[Status.PENDING, Status.FAILED]
    ).update(status=Status.CANCELLED, details=without_secrets())


# Messages handed to the worker in tasks of this many (one task a message cost more than its
# sending), each still claimed on its own before it is sent.
SEND_BATCH = 50


def enqueue(ids: list[int]) -> int:
    """Hand the rows to the worker; if the broker is down they stay pending for the dispatcher.
    Returns how many were handed over."""
    from notifications.tasks import send_notifications

    if not ids:
        return 0
    # Stamped first: a task that runs (and fails) at once must not look freshly enqueued after.
    Notification.objects.filter(pk__in=ids, status=Status.PENDING).update(enqueued_at=timezone.now())
    for done in range(0, len(ids), SEND_BATCH):
        try:
            send_notifications.delay(list(ids[done : done + SEND_BATCH]))
        except Exception as exc:  # noqa: BLE001 - any broker failure: the outbox keeps the message
            logger.warning(
                "broker unavailable, messages left pending count=%s error=%s", len(ids) - done, type(exc).__name__
            )
            Notification.objects.filter(pk__in=ids[done:], status=Status.PENDING).update(enqueued_at=None)
            return done
    return len(ids)


def reminder_windows(office: Office) -> list[tuple[str, int, int]]:
    """(kind, hours before, hours of the next reminder): an appointment gets only the reminder of
    the tightest window it is in, so two reminders never arrive together."""
    last = (
        office.last_reminder_hours
        if office.last_reminder_hours and office.last_reminder_hours < office.reminder_hours
        else 0
    )
    windows = [(Kind.REMINDER, office.reminder_hours, last)]
    if last:
        windows.append((Kind.LAST_REMINDER, last, 0))
    return windows


def _due_reminders(office: Office, kind: str, hours: int, tighter: int, now: datetime.datetime):
    already = Notification.objects.filter(
        appointment=OuterRef("pk"), kind=kind, appointment_time=OuterRef("slot__starts_at")
    )
    return Appointment.objects.filter(
        office=office,
        status=Appointment.Status.BOOKED,
        slot__starts_at__gt=now + datetime.timedelta(hours=tighter),
        slot__starts_at__lte=now + datetime.timedelta(hours=hours),
    ).filter(~Exists(already))


def schedule_reminders(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """Write the reminders of appointments that entered their window (24 hours before by default,
    per office, and an optional last one). Batches are locked with SKIP LOCKED, so two runs at once
    share the work instead of waiting; the unique constraint keeps each reminder single."""
    now = now or timezone.now()
    written = 0
    for office in Office.objects.all():
        for kind, hours, tighter in reminder_windows(office):
            while True:
                with transaction.atomic():
                    appointments = list(
                        _due_reminders(office, kind, hours, tighter, now)
                        .select_related("slot")
                        .select_for_update(skip_locked=True, of=("self",))
                        .order_by("pk")[:batch]
                    )
                    if not appointments:
                        break
                    rows = [row for appointment in appointments for row in _rows(appointment, kind, now)]
                    Notification.objects.bulk_create(rows, ignore_conflicts=True)
                    ids = list(
                        Notification.objects.filter(
                            appointment__in=appointments, kind=kind, status=Status.PENDING
                        ).values_list("pk", flat=True)
                    )
                    transaction.on_commit(lambda ids=ids: enqueue(ids))
                    written += len(rows)
    return written


def schedule_reminders_for(*, appointment: Appointment, now: datetime.datetime | None = None) -> None:
    """After a move: the reminders whose window the new time is already in, written at once."""
    now = now or timezone.now()
    for kind, hours, tighter in reminder_windows(appointment.office):
        window = (now + datetime.timedelta(hours=tighter), now + datetime.timedelta(hours=hours))
        if window[0] < appointment.slot.starts_at <= window[1]:
            notify(appointment=appointment, kind=kind, now=now)


def resend(*, notification_id: int) -> bool:
    """Send a failed message again (admin action); True if it was failed and is pending now."""
    with transaction.atomic():
        now = timezone.now()
        changed = Notification.objects.filter(pk=notification_id, status=Status.FAILED).update(
            **REVIVE, due_at=now, queued_at=now
        )
        if changed:
            transaction.on_commit(lambda: enqueue([notification_id]))
    return bool(changed)


# ---------------------------------------------------------------------------------------------
# SMS per phone number per day, counted in Redis, in two budgets
# ---------------------------------------------------------------------------------------------
# Codes (PHONE_CODES_PER_PHONE_PER_DAY) are counted apart from every other SMS
# (SMS_PER_PHONE_PER_DAY): anyone can type a person's number and ask for codes, and if those codes
# used up the number's day, the messages the person needs (a lottery win, a waitlist offer, a
# confirmation) would not be sent. So a number gets at most both budgets' SMS in a day, and codes
# asked by others never take a message of its own.
#
# The outbox takes the quota when it sends an SMS (`send`); an SMS over it is not sent (cancelled,
# with the reason in last_error), its e-mail still is. Code that sends something on a person's
# request (a phone code) asks `sms_quota_left` first and refuses with `sms_quota_resets_at`; it
# does not take the quota itself, or the SMS would count twice.
SMS, CODES = "sms", "codes"  # the budgets
OVER_SMS_QUOTA = "not sent: over SMS_PER_PHONE_PER_DAY, the daily limit of SMS to this phone number"
OVER_CODE_QUOTA = "not sent: over PHONE_CODES_PER_PHONE_PER_DAY, the daily limit of codes to this phone number"
OVER_QUOTA = {SMS: OVER_SMS_QUOTA, CODES: OVER_CODE_QUOTA}


def _quota(budget: str) -> int:
    return settings.PHONE_CODES_PER_PHONE_PER_DAY if budget == CODES else settings.SMS_PER_PHONE_PER_DAY


def _sms_quota_key(phone: str, now: datetime.datetime, budget: str = SMS) -> str:
    number = to_python(phone)
    spelling = number.as_e164 if number and number.is_valid() else str(phone)
    prefix = "sms-quota" if budget == SMS else "sms-code-quota"
    return f"{prefix}:{now.astimezone(datetime.UTC).date().isoformat()}:{keyed_hash(spelling, purpose='phone')}"


def sms_quota_resets_at(now: datetime.datetime) -> datetime.datetime:
    """When the day of the quota ends: the next midnight UTC."""
    today = now.astimezone(datetime.UTC).date()
    return datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)


def sms_quota_left(phone: str, now: datetime.datetime, *, budget: str = SMS) -> int:
    """How many more SMS of `budget` this phone number (any spelling of it) may be sent today (UTC
    day). Fails open: when Redis cannot say, the whole quota."""
    try:
        used = cache.get(_sms_quota_key(phone, now, budget), 0)
    except Exception:  # noqa: BLE001 - the cache's get already fails open; any other client error too
        used = 0
    return max(0, _quota(budget) - int(used or 0))


def take_sms_quota(phone: str, now: datetime.datetime, *, fail_closed: bool = False, budget: str = SMS) -> bool:
    """Count one SMS of `budget` to this phone number today; False when it is over the budget's
    quota (it must not be sent). When Redis cannot count: True (messages about an appointment must
    go), or False with `fail_closed`. The count expires with its day."""
    key = _sms_quota_key(phone, now, budget)
    try:
        if cache.add(key, 1, timeout=int((sms_quota_resets_at(now) - now).total_seconds()) + 60):
            used = 1
        else:
            used = cache.incr(key)
    except ValueError:  # expired between add and incr: a new day
        return take_sms_quota(phone, now, fail_closed=fail_closed, budget=budget)
    except Exception as exc:  # noqa: BLE001 - any error of the cache client
        logger.warning("sms quota not counted closed=%s error=%s", fail_closed, type(exc).__name__)
        return not fail_closed
    return used <= _quota(budget)


def take_sms_quotas(sms: list[tuple[str, str]], now: datetime.datetime) -> list[bool]:
    """`take_sms_quota` for each of these SMS, (phone, budget) pairs in order, in one round trip to
    Redis (a batch of the outbox): False for each one over its budget. When Redis cannot count:
    all True."""
    client = _redis_client()
    if client is None:  # not Redis (the local demo's memory cache): one by one
        return [take_sms_quota(phone, now, budget=budget) for phone, budget in sms]
    timeout = int((sms_quota_resets_at(now) - now).total_seconds()) + 60
    keys = [cache.make_and_validate_key(_sms_quota_key(phone, now, budget)) for phone, budget in sms]
    try:
        with client.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=timeout, nx=True)  # as `add`: the count starts with its day's expiry
                pipe.incr(key)
            counts = pipe.execute()[1::2]
    except Exception as exc:  # noqa: BLE001 - any error of the cache client
        logger.warning("sms quota not counted closed=False error=%s", type(exc).__name__)
        return [True] * len(sms)
    return [count <= _quota(budget) for count, (_phone, budget) in zip(counts, sms, strict=True)]


def give_back_sms_quotas(sms: list[tuple[str, str]], now: datetime.datetime) -> None:
    """Undo `take_sms_quotas` for SMS, (phone, budget) pairs, that were not sent after all (given
    back by their batch)."""
    client = _redis_client()
    if client is None or not sms:
        for phone, budget in sms:
            with contextlib.suppress(Exception):  # a count a little high only errs on the safe side
                cache.decr(_sms_quota_key(phone, now, budget))
        return
    try:
        with client.pipeline(transaction=True) as pipe:
            for phone, budget in sms:
                pipe.decr(cache.make_and_validate_key(_sms_quota_key(phone, now, budget)))
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - a count a little high only errs on the safe side
        logger.warning("sms quota not given back error=%s", type(exc).__name__)


def _redis_client():
    """The Redis client under the cache, or None when the cache is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)  # noqa: SLF001 - Django's client, for a pipeline


def erase_recipients(*, appointment_ids: list[int]) -> int:
    """The notifications app's anonymiser (run by `retention`): the messages of these appointments
    keep their kind, channel, times and status, not who they went to or what an error said about
    it. One never sent by then is not sent any more."""
    messages = Notification.objects.filter(appointment_id__in=appointment_ids)
    messages.filter(status=Notification.Status.PENDING).update(status=Notification.Status.CANCELLED)
    return messages.update(recipient="", last_error="", details={})


def erase_person_messages(*, before: datetime.datetime, batch: int = 500) -> int:
    """The anonymiser of messages to people without an appointment (phone codes, waitlist and
    lottery news), run by `retention`: written before `before`, they keep kind, times and status,
    not who they went to nor what they said."""
    erased = 0
    old = Notification.objects.filter(appointment__isnull=True, created_at__lt=before).exclude(recipient="")
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch]):
        messages = Notification.objects.filter(pk__in=ids)
        messages.filter(status=Status.PENDING).update(status=Status.CANCELLED)
        erased += messages.update(recipient="", last_error="", details={})
    return erased


def dispatch(*, now: datetime.datetime | None = None, batch: int = 1000) -> dict[str, int]:
    """The per-minute safety net. Rows stuck in "sending" (their worker died) go back to pending,
    or fail once they used up their attempts; pending rows that are due and not handed to the
    broker (or handed over long ago, and lost) are enqueued."""
    now = now or timezone.now()
    stuck = Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - datetime.timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT)
    )
    given_up = stuck.filter(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error="the worker stopped while sending, too many times", details=without_secrets()
    )
    recovered = stuck.update(
        status=Status.PENDING, due_at=now, enqueued_at=None, last_error="the worker stopped while sending"
    )
    lost = now - datetime.timedelta(minutes=5)
    due = list(
        Notification.objects.filter(status=Status.PENDING, due_at__lte=now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost))
        .order_by("due_at")
        .values_list("pk", flat=True)[:batch]
    )
    return {"recovered": recovered, "failed": given_up, "enqueued": enqueue(due)}
