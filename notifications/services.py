"""The outbox: writing messages in the transaction of the change they tell of, sending them once,
retrying what can be retried, and reminders as appointments enter their window.

A row is claimed with a conditional UPDATE (pending → sending) before it is sent, so a task
delivered twice sends once. Tasks are enqueued after commit; if the broker is down then, the row
stays pending and the per-minute dispatcher enqueues it later. No task is scheduled on the broker
with an eta: what is due is in the table."""

import datetime
import functools
import logging
import smtplib
import time
from collections import Counter
from email.mime.base import MIMEBase
from email.utils import make_msgid

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEText
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.functional import cached_property
from phonenumber_field.phonenumber import to_python

from appointments.calendar import calendar_method, ics
from appointments.links import manage_token
from appointments.models import Appointment, Office
from core.limits import keyed_hash
from notifications.models import Notification
from notifications.sms import GSM7_SINGLE_PART, SmsError, get_backend, gsm7_length, to_gsm7

logger = logging.getLogger(__name__)
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
REMINDER_KINDS = (Kind.REMINDER, Kind.LAST_REMINDER)
# A cancellation carries the cancelling calendar, so the event the applicant added goes away.
WITH_CALENDAR = (Kind.CONFIRMATION, Kind.MOVED, Kind.CANCELLED)
SMS_ONLY = (Kind.TURN,)  # at the office: a phone buzzes, an inbox is not read
SMTP_OUR_FAULT = {530, 534, 535, 538}  # authentication required, too weak, failed, encryption required


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


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
    ).update(status=Status.CANCELLED)


# Messages handed to the worker in tasks of this many (one task a message cost more than its
# sending), each still claimed on its own before it is sent.
SEND_BATCH = 50
# A task that has sent for this long hands the rest on as a new task, so it ends well inside its
# time limit however slow the provider (each sending is bounded by EMAIL_TIMEOUT / SMS_HTTP_TIMEOUT).
BATCH_SECONDS = 30


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


def batch_clock() -> float:
    """The clock a batch measures its time with (its own name, so a test can move it without
    moving every other clock of the process, the Redis client's included)."""
    return time.monotonic()


def send_many(*, notification_ids: list[int]) -> dict[str, int]:
    """`send` each message in turn (each claimed first, so a batch delivered twice sends each once);
    after BATCH_SECONDS the ones not started yet are handed on as a new task."""
    started = batch_clock()
    outcomes: Counter[str] = Counter()
    offices: dict[int, Office] = {}
    for done, notification_id in enumerate(notification_ids):
        if batch_clock() - started > BATCH_SECONDS:
            outcomes["handed on"] += enqueue(list(notification_ids[done:]))
            break
        outcomes[send(notification_id=notification_id, offices=offices)] += 1
    return dict(outcomes)


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
# SMS per phone number per day (SMS_PER_PHONE_PER_DAY), counted in Redis
# ---------------------------------------------------------------------------------------------
# The outbox takes the quota when it sends an SMS (`send`); an SMS over it is not sent (cancelled,
# with the reason in last_error), its e-mail still is. Code that sends something on a person's
# request (a phone code) asks `sms_quota_left` first and refuses with `sms_quota_resets_at`; it
# does not take the quota itself, or the SMS would count twice.
OVER_SMS_QUOTA = "not sent: over SMS_PER_PHONE_PER_DAY, the daily limit of SMS to this phone number"


def _sms_quota_key(phone: str, now: datetime.datetime) -> str:
    number = to_python(phone)
    spelling = number.as_e164 if number and number.is_valid() else str(phone)
    return f"sms-quota:{now.astimezone(datetime.UTC).date().isoformat()}:{keyed_hash(spelling, purpose='phone')}"


def sms_quota_resets_at(now: datetime.datetime) -> datetime.datetime:
    """When the day of the quota ends: the next midnight UTC."""
    today = now.astimezone(datetime.UTC).date()
    return datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)


def sms_quota_left(phone: str, now: datetime.datetime) -> int:
    """How many more SMS this phone number (any spelling of it) may be sent today (UTC day).
    Fails open: when Redis cannot say, the whole quota."""
    try:
        used = cache.get(_sms_quota_key(phone, now), 0)
    except Exception:  # noqa: BLE001 - the cache's get already fails open; any other client error too
        used = 0
    return max(0, settings.SMS_PER_PHONE_PER_DAY - int(used or 0))


def take_sms_quota(phone: str, now: datetime.datetime, *, fail_closed: bool = False) -> bool:
    """Count one SMS to this phone number today; False when it is over SMS_PER_PHONE_PER_DAY (it
    must not be sent). When Redis cannot count: True (messages about an appointment must go), or
    False with `fail_closed`. The count expires with its day."""
    key = _sms_quota_key(phone, now)
    try:
        if cache.add(key, 1, timeout=int((sms_quota_resets_at(now) - now).total_seconds()) + 60):
            used = 1
        else:
            used = cache.incr(key)
    except ValueError:  # expired between add and incr: a new day
        return take_sms_quota(phone, now, fail_closed=fail_closed)
    except Exception as exc:  # noqa: BLE001 - any error of the cache client
        logger.warning("sms quota not counted closed=%s error=%s", fail_closed, type(exc).__name__)
        return not fail_closed
    return used <= settings.SMS_PER_PHONE_PER_DAY


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------
class Rendered:
    """A message in the applicant's language and the office's time, each form made when first read:
    an SMS needs only its text, an e-mail never its SMS (rendering every form was most of a
    message's sending time)."""

    def __init__(self, context: dict, language: str, zone: datetime.tzinfo) -> None:
        self.context, self.language, self.zone = context, language, zone

    def _render(self, template: str) -> str:
        with translation.override(self.language), timezone.override(self.zone):
            return render_to_string(template, self.context)

    @cached_property
    def subject(self) -> str:
        return " ".join(self._render("notifications/email_subject.txt").split())

    @cached_property
    def text(self) -> str:
        return self._render("notifications/email.txt")

    @cached_property
    def html(self) -> str:
        return self._render("notifications/email.html")

    @cached_property
    def sms(self) -> str:
        with translation.override(self.language), timezone.override(self.zone):
            return _sms(self.context)


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


def manage_url(appointment: Appointment) -> str:
    return f"{settings.SITE_URL}/m/{manage_token(appointment)}/"


def render(notification: Notification) -> Rendered:
    """The message in the applicant's language, with the office's local time."""
    appointment = notification.appointment
    office = appointment.slot.office
    with translation.override(notification.language), timezone.override(office.zone):
        context = {
            "kind": notification.kind,
            "details": notification.details,
            "appointment": appointment,
            "office": office,
            "starts_at": appointment.slot.starts_at,
            "manage_url": manage_url(appointment) if appointment.status == Appointment.Status.BOOKED else "",
            # The questions come first, in the applicant's language (the prefix reverse() adds).
            "book_again_url": _book_again_url(notification.language, settings.SITE_URL, get_urlconf()),
            "bring": appointment.what_to_bring(notification.language),
        }
    return Rendered(context, notification.language, office.zone)


@functools.lru_cache(maxsize=32)
def _book_again_url(language: str, site_url: str, urlconf: str | None) -> str:
    # The same for every message in a language: reversed once (under translation.override).
    return site_url + reverse("eligibility:begin")


def _sms(context: dict) -> str:
    """The SMS, in one GSM-7 part: the short wording when the full one would not fit."""
    text = ""
    for compact in (False, True):
        text = to_gsm7(" ".join(render_to_string("notifications/sms.txt", {**context, "compact": compact}).split()))
        if gsm7_length(text) <= GSM7_SINGLE_PART:
            break
    else:
        logger.warning("sms longer than one part length=%s", gsm7_length(text))
    return text


def _calendar_part(appointment: Appointment, language: str) -> MIMEBase:
    """The .ics as a MIME part built here, so its Content-Type has the one charset parameter
    (Django's attach() adds its own charset to whatever the given type holds)."""
    part = SafeMIMEText(ics(appointment, language=language).decode(), "calendar", "utf-8")
    part.set_param("method", calendar_method(appointment), requote=False)  # as the file's METHOD
    part.add_header("Content-Disposition", "attachment", filename=f"cita-{appointment.reference}.ics")
    return part


def _deliver_email(notification: Notification, rendered: Rendered) -> str:
    message_id = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    # Auto-Submitted (RFC 3834): no out-of-office or other automatic reply comes back to it.
    headers = {"Message-ID": message_id, "Auto-Submitted": "auto-generated"}
    message = EmailMultiAlternatives(rendered.subject, rendered.text, to=[notification.recipient], headers=headers)
    message.attach_alternative(rendered.html, "text/html")
    if notification.kind in WITH_CALENDAR:
        message.attach(_calendar_part(notification.appointment, notification.language))
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        raise DeliveryError(f"recipient refused: {codes}", permanent=all(code >= 500 for code in codes)) from exc
    except smtplib.SMTPResponseException as exc:
        # Refused authentication is our configuration, not the message: retry until someone fixes it.
        permanent = exc.smtp_code >= 500 and exc.smtp_code not in SMTP_OUR_FAULT
        raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=permanent) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"mail server unreachable: {type(exc).__name__}", permanent=False) from exc
    except ValueError as exc:  # an address Django cannot even encode
        raise DeliveryError(f"invalid address: {exc}", permanent=True) from exc
    return message_id


def sms_reference(notification: Notification) -> str:
    """The same on every attempt of one sending, new when the message is sent again on purpose."""
    return f"movilidad-{notification.pk}-{int(notification.queued_at.timestamp())}"


def _deliver_sms(notification: Notification, rendered: Rendered) -> str:
    try:
        return get_backend().send(to=notification.recipient, text=rendered.sms, reference=sms_reference(notification))
    except SmsError as exc:
        raise DeliveryError(exc.reason, permanent=exc.permanent) from exc


def backoff(attempts: int) -> datetime.timedelta:
    """1, 2, 4, … minutes after each failed attempt, at most an hour."""
    return datetime.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _office(office_id: int, offices: dict[int, Office]) -> Office:
    if office_id not in offices:
        offices[office_id] = Office.objects.get(pk=office_id)
    return offices[office_id]


def send(
    *, notification_id: int, now: datetime.datetime | None = None, offices: dict[int, Office] | None = None
) -> str:
    """Claim the message, send it, and record what happened; returns the new status, or
    "skipped" when another delivery of the task already claimed or sent it. `offices`: the offices
    already read by the batch this message is sent in (an office row is a large one to read)."""
    now = now or timezone.now()
    offices = {} if offices is None else offices
    notification = _claim(notification_id, now)
    if notification is None:
        return "skipped"
    if notification.appointment_id is None:
        notification.office = _office(notification.office_id, offices)
        return _send_to_person(notification, now)
    with transaction.atomic():
        # Read under the row lock: a move or cancellation in progress is waited for, so what is
        # checked below is what holds.
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("slot", "screening")
            .get(pk=notification.appointment_id)
        )
    appointment.office = _office(appointment.office_id, offices)
    appointment.slot.office = _office(appointment.slot.office_id, offices)
    notification.appointment = appointment
    outdated = appointment.slot.starts_at != notification.appointment_time
    if notification.kind != Kind.CANCELLED and (appointment.status != Appointment.Status.BOOKED or outdated):
        # News of a time that is no longer the appointment's: a later message tells what holds.
        return _finish(notification, Status.CANCELLED, error="the appointment changed before this was sent")
    if notification.kind in REMINDER_KINDS and notification.appointment_time <= now:
        return _finish(notification, Status.CANCELLED, error="the appointment time passed before the reminder was sent")
    last = appointment.office.last_reminder_hours
    if (
        notification.kind == Kind.REMINDER
        and last
        and notification.appointment_time - now <= datetime.timedelta(hours=last)
    ):
        return _finish(notification, Status.CANCELLED, error="the last reminder is due instead")
    if not _within_sms_quota(notification, now):
        return _finish(notification, Status.CANCELLED, error=OVER_SMS_QUOTA)
    try:
        rendered = render(notification)
        deliver = _deliver_email if notification.channel == Channel.EMAIL else _deliver_sms
        provider_id = deliver(notification, rendered)
    except DeliveryError as exc:
        return _failed(notification, exc, now)
    except Exception as exc:
        logger.exception("message not sent notification=%s", notification.pk)
        return _failed(notification, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False), now)
    return _finish(notification, Status.SENT, sent_at=timezone.now(), provider_id=provider_id)


def _claim(notification_id: int, now: datetime.datetime) -> Notification | None:
    """pending → sending, the attempt counted, in one statement that returns the row; None when it
    is not pending and due (another delivery of the task claimed or sent it). One statement
    instead of an UPDATE and a SELECT: a message's queries are most of its sending time."""
    table = connection.ops.quote_name(Notification._meta.db_table)  # noqa: SLF001
    claimed = Notification.objects.raw(
        f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1"  # noqa: S608 - no input
        " WHERE id = %s AND status = %s AND due_at <= %s RETURNING *",
        [Status.SENDING, now, notification_id, Status.PENDING, now],
    )
    return next(iter(claimed), None)


def render_person(notification: Notification) -> str:
    """The SMS to a person without an appointment, in their language and the office's time."""
    office = notification.office
    with translation.override(notification.language), timezone.override(office.zone):
        context = {"details": notification.details, "office": office, "site_url": settings.SITE_URL}
        text = render_to_string(f"notifications/person/{notification.kind}.sms.txt", context)
    return to_gsm7(" ".join(text.split()))


def _send_to_person(notification: Notification, now: datetime.datetime) -> str:
    expires = notification.details.get("expires_at")
    if expires and datetime.datetime.fromisoformat(expires) <= now:
        return _finish(notification, Status.CANCELLED, error="what the message offered expired before it was sent")
    if not _within_sms_quota(notification, now):
        return _finish(notification, Status.CANCELLED, error=OVER_SMS_QUOTA)
    try:
        text = render_person(notification)
        provider_id = get_backend().send(to=notification.recipient, text=text, reference=sms_reference(notification))
    except SmsError as exc:
        return _failed(notification, DeliveryError(exc.reason, permanent=exc.permanent), now)
    except Exception as exc:
        logger.exception("message not sent notification=%s", notification.pk)
        return _failed(notification, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False), now)
    return _finish(notification, Status.SENT, sent_at=timezone.now(), provider_id=provider_id)


def _within_sms_quota(notification: Notification, now: datetime.datetime) -> bool:
    """An SMS takes the quota on its first attempt only: a retry is the same message."""
    if notification.channel != Channel.SMS or notification.attempts > 1:
        return True
    return take_sms_quota(notification.recipient, now)


def _failed(notification: Notification, error: DeliveryError, now: datetime.datetime) -> str:
    too_old = now - notification.queued_at > datetime.timedelta(hours=settings.NOTIFICATION_MAX_AGE_HOURS)
    if error.permanent or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS or too_old:
        reason = error.reason if error.permanent else f"gave up after {notification.attempts} attempts: {error.reason}"
        logger.warning("message failed notification=%s reason=%s", notification.pk, reason)
        return _finish(notification, Status.FAILED, error=reason)
    Notification.objects.filter(pk=notification.pk, status=Status.SENDING).update(
        status=Status.PENDING, last_error=error.reason, due_at=now + backoff(notification.attempts), enqueued_at=None
    )
    return Status.PENDING


def _finish(
    notification: Notification,
    status: str,
    *,
    error: str = "",
    sent_at: datetime.datetime | None = None,
    provider_id: str = "",
) -> str:
    values = {"status": status}
    if error:
        values["last_error"] = error
    if sent_at:
        values.update(sent_at=sent_at, provider_message_id=provider_id)
    Notification.objects.filter(pk=notification.pk, status=Status.SENDING).update(**values)
    return status


def dispatch(*, now: datetime.datetime | None = None, batch: int = 1000) -> dict[str, int]:
    """The per-minute safety net. Rows stuck in "sending" (their worker died) go back to pending,
    or fail once they used up their attempts; pending rows that are due and not handed to the
    broker (or handed over long ago, and lost) are enqueued."""
    now = now or timezone.now()
    stuck = Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - datetime.timedelta(seconds=settings.NOTIFICATION_SENDING_TIMEOUT)
    )
    given_up = stuck.filter(attempts__gte=settings.NOTIFICATION_MAX_ATTEMPTS).update(
        status=Status.FAILED, last_error="the worker stopped while sending, too many times"
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
