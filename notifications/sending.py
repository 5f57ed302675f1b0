"""The sending side of the outbox: a message claimed (pending → sending), rendered in the
applicant's language and the office's time, handed to the SMS backend or the mail server, and its
outcome recorded (sent, retried later, failed, or cancelled when what it tells no longer holds)."""

import contextlib
import datetime
import functools
import logging
import smtplib
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from email.mime.base import MIMEBase
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import SafeMIMEText
from django.db import DatabaseError, connection, transaction
from django.template.loader import render_to_string
from django.urls import get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.functional import cached_property

from appointments.calendar import calendar_method, ics
from appointments.links import manage_token
from appointments.models import Appointment, Office
from notifications.models import SECRETS_ERASED, Notification, without_secrets_sql
from notifications.services import (
    CODES,
    OVER_QUOTA,
    REMINDER_KINDS,
    SMS,
    enqueue,
    give_back_sms_quotas,
    take_sms_quota,
    take_sms_quotas,
)
from notifications.sms import GSM7_SINGLE_PART, SmsError, get_backend, gsm7_length, to_gsm7

logger = logging.getLogger(__name__)
Kind, Channel, Status = Notification.Kind, Notification.Channel, Notification.Status
# A cancellation carries the cancelling calendar, so the event the applicant added goes away.
WITH_CALENDAR = (Kind.CONFIRMATION, Kind.MOVED, Kind.CANCELLED)
SMTP_OUR_FAULT = {530, 534, 535, 538}  # authentication required, too weak, failed, encryption required


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


# A task that has sent for this long hands the rest on as a new task, so it ends well inside its
# time limit however slow the provider (each sending is bounded by EMAIL_TIMEOUT / SMS_HTTP_TIMEOUT).
BATCH_SECONDS = 30


def batch_clock() -> float:
    """The clock a batch measures its time with (its own name, so a test can move it without
    moving every other clock of the process, the Redis client's included)."""
    return time.monotonic()


def send(*, notification_id: int, now: datetime.datetime | None = None) -> str:
    """Claim the message, send it, and record what happened; returns the new status, or
    "skipped" when another delivery of the task already claimed or sent it."""
    outcomes = send_many(notification_ids=[notification_id], now=now)
    return next(iter(outcomes))


def send_many(*, notification_ids: list[int], now: datetime.datetime | None = None) -> dict[str, int]:
    """Claim the batch's messages that are pending and due in one statement (a batch delivered
    twice, or to two workers, sends each once: a row is claimed by one of them), read what
    rendering needs in a few queries, then send and record each message on its own, in the order
    given. After BATCH_SECONDS the ones not started yet are given back (pending) and handed on as a
    new task; one that fails does not stop the others."""
    started = batch_clock()
    moment = now or timezone.now()
    claimed = _claim(notification_ids, moment)
    outcomes: Counter[str] = Counter()
    if skipped := len(set(notification_ids)) - len(claimed):
        outcomes["skipped"] = skipped
    todo = [claimed.pop(pk) for pk in notification_ids if pk in claimed]
    begun = 0  # messages whose sending began
    connections = Connections()
    quotas: dict[int, bool] = {}
    try:
        _read_what_rendering_needs(todo)
        quotas = _take_sms_quotas(todo, moment)
        for notification in todo:
            if batch_clock() - started > BATCH_SECONDS:
                outcomes["handed on"] += enqueue(_give_back(todo[begun:], quotas, moment))
                break
            begun += 1
            outcomes[_send_guarded(notification, now or timezone.now(), connections, quotas)] += 1
        connections.wait()  # the last message recorded
    except BaseException:
        # Stopped early (a soft time limit, a lost database): the messages not begun are given back
        # now rather than left "sending" until the dispatcher's timeout. The one being sent when it
        # stopped stays claimed: it may have left, and the dispatcher decides.
        if connections.stopped_before_delivering:
            begun -= 1  # the message being sent had not left: it goes back too
        _give_back(todo[begun:], quotas, moment)
        raise
    finally:
        connections.close()
    return dict(outcomes)


class Connections:
    """What a batch sends and records through. The SMS backend; the mail connection (or the mail
    file), opened at the batch's first e-mail and kept for the others; and, in a worker, a thread
    of its own that records each message's outcome (one statement) while the next message is
    rendered. A message is delivered only once the one before it is recorded, so, as when
    everything ran in turn, at most one message has left without its outcome written."""

    def __init__(self) -> None:
        self.sms = get_backend()
        self.mail = get_connection()
        self.stopped_before_delivering = False
        self._recorder: ThreadPoolExecutor | None = None
        self._recording: Future | None = None

    def record(self, statement: Callable[[], object]) -> None:
        self.wait_in_turn()
        if connection.in_atomic_block:
            # Inside the caller's transaction (a test's): another connection would wait on its locks.
            statement()
            return
        if self._recorder is None:
            self._recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-recorder")
        self._recording = self._recorder.submit(statement)

    def wait(self) -> None:
        """Until the last outcome is written; raises what writing it raised."""
        if self._recording is not None:
            recording, self._recording = self._recording, None
            recording.result()

    def wait_in_turn(self) -> None:
        """Before the message in hand leaves or is recorded: until the one before it is recorded.
        When that failed, the message in hand has not left (the batch gives it back)."""
        try:
            self.wait()
        except BaseException:
            self.stopped_before_delivering = True
            raise

    def close_mail(self) -> None:
        try:
            self.mail.close()
        except Exception:  # noqa: BLE001 - the messages are recorded; a failing QUIT changes nothing
            logger.warning("mail connection not closed cleanly")

    def close(self) -> None:
        self.close_mail()
        if self._recorder is not None:
            with contextlib.suppress(BaseException):  # what it raised went up from `wait` already
                self.wait()
            self._recorder.submit(_close_connection)
            self._recorder.shutdown(wait=True)


def _close_connection() -> None:
    """The recording thread's own connection, closed in it: `connection.close` passed from another
    thread would be that thread's (the proxy is read where it is written), refused in this one, and
    each batch would leave a connection open until the garbage collector found it."""
    connection.close()


def _claim(notification_ids: list[int], now: datetime.datetime) -> dict[int, Notification]:
    """pending → sending, the attempt counted, for every message of the batch that is pending and
    due, in one statement that returns the rows. PostgreSQL re-checks the condition on a row another
    transaction changed meanwhile, so of two workers claiming the same message one gets it."""
    if not notification_ids:
        return {}
    table = connection.ops.quote_name(Notification._meta.db_table)  # noqa: SLF001
    claimed = Notification.objects.raw(
        f"UPDATE {table} SET status = %s, claimed_at = %s, attempts = attempts + 1"  # noqa: S608 - no input
        f" WHERE id IN ({_placeholders(notification_ids)}) AND status = %s AND due_at <= %s RETURNING *",
        [Status.SENDING, now, *notification_ids, Status.PENDING, now],
    )
    return {notification.pk: notification for notification in claimed}


def _placeholders(values: list[Any]) -> str:
    """One parameter a value (`IN (%s, %s)`): PostgreSQL's `= ANY(%s)` with a list is not SQL that
    `make run`'s SQLite knows."""
    return ", ".join("%s" for _value in values)


def _give_back(notifications: list[Notification], quotas: dict[int, bool], now: datetime.datetime) -> list[int]:
    """Claimed but not begun: pending again, as if never claimed (the attempt not counted, the SMS
    quota taken for them given back). Returns their ids, in the batch's order."""
    ids = [notification.pk for notification in notifications]
    if not ids:
        return []
    table = connection.ops.quote_name(Notification._meta.db_table)  # noqa: SLF001
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claimed_at = NULL, attempts = attempts - 1"  # noqa: S608 - no input
            f" WHERE id IN ({_placeholders(ids)}) AND status = %s RETURNING id",
            [Status.PENDING, *ids, Status.SENDING],
        )
        given = {row[0] for row in cursor.fetchall()}
    give_back_sms_quotas([_quota_of(n) for n in notifications if n.pk in given and n.pk in quotas], now)
    return [pk for pk in ids if pk in given]


def _read_what_rendering_needs(notifications: list[Notification]) -> None:
    """The batch's appointments (with slot and screening) in one query under their row locks, and
    its offices (with the pathways they serve) once each: a move or cancellation in progress when
    the batch starts is waited for, so what is checked before each message is what holds then; a
    change committed later writes its own message, sent after this one."""
    appointment_ids = sorted({n.appointment_id for n in notifications if n.appointment_id})
    appointments: dict[int, Appointment] = {}
    if appointment_ids:
        with transaction.atomic():
            appointments = {
                appointment.pk: appointment
                for appointment in Appointment.objects.select_for_update(of=("self",))
                .select_related("slot", "screening")
                .filter(pk__in=appointment_ids)
                .order_by("pk")
            }
    office_ids = {n.office_id for n in notifications if n.office_id}
    office_ids |= {a.office_id for a in appointments.values()} | {a.slot.office_id for a in appointments.values()}
    offices = Office.objects.prefetch_related("pathways").in_bulk(office_ids)
    for notification in notifications:
        if notification.appointment_id:
            appointment = appointments[notification.appointment_id]
            appointment.office = offices[appointment.office_id]
            appointment.slot.office = offices[appointment.slot.office_id]
            notification.appointment = appointment
        else:
            notification.office = offices[notification.office_id]


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


def _email(notification: Notification, rendered: Rendered, connections: Connections) -> EmailMultiAlternatives:
    message_id = make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    # Auto-Submitted (RFC 3834): no out-of-office or other automatic reply comes back to it.
    headers = {"Message-ID": message_id, "Auto-Submitted": "auto-generated"}
    message = EmailMultiAlternatives(
        rendered.subject, rendered.text, to=[notification.recipient], headers=headers, connection=connections.mail
    )
    message.attach_alternative(rendered.html, "text/html")
    if notification.kind in WITH_CALENDAR:
        message.attach(_calendar_part(notification.appointment, notification.language))
    return message


def _deliver_email(message: EmailMultiAlternatives, connections: Connections) -> str:
    """Sends the message; returns its Message-ID."""
    try:
        connections.mail.open()  # once a batch: its next e-mails go through the same connection
        message.send()
    except Exception as exc:
        # After an error the connection may be in any state: the next e-mail opens a fresh one.
        connections.close_mail()
        error = _mail_error(exc)
        if error is None:
            raise
        raise error from exc
    return message.extra_headers["Message-ID"]


def _mail_error(exc: Exception) -> DeliveryError | None:
    """What an error of the mail backend means for the message (None: not a mail error)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return DeliveryError(f"recipient refused: {codes}", permanent=all(code >= 500 for code in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        # Refused authentication is our configuration, not the message: retry until someone fixes it.
        permanent = exc.smtp_code >= 500 and exc.smtp_code not in SMTP_OUR_FAULT
        return DeliveryError(f"SMTP {exc.smtp_code}", permanent=permanent)
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return DeliveryError(f"mail server unreachable: {type(exc).__name__}", permanent=False)
    if isinstance(exc, ValueError):  # an address Django cannot even encode
        return DeliveryError(f"invalid address: {exc}", permanent=True)
    return None


def sms_reference(notification: Notification) -> str:
    """The same on every attempt of one sending, new when the message is sent again on purpose."""
    return f"movilidad-{notification.pk}-{int(notification.queued_at.timestamp())}"


def _deliver_sms_text(notification: Notification, text: str, connections: Connections) -> str:
    try:
        return connections.sms.send(to=notification.recipient, text=text, reference=sms_reference(notification))
    except SmsError as exc:
        raise DeliveryError(exc.reason, permanent=exc.permanent) from exc


def backoff(attempts: int) -> datetime.timedelta:
    """1, 2, 4, … minutes after each failed attempt, at most an hour."""
    return datetime.timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def _send_guarded(
    notification: Notification, now: datetime.datetime, connections: Connections, quotas: dict[int, bool]
) -> str:
    """`_send_claimed`, where a programming error in one message (a malformed detail, say) fails
    that message, to be retried, and the batch goes on."""
    try:
        return _send_claimed(notification, now, connections, quotas)
    except DatabaseError:
        raise  # the next message would meet it too: the batch stops and gives its rest back
    except Exception as exc:
        logger.exception("message not sent notification=%s", notification.pk)
        return _failed(
            notification, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False), now, connections
        )


def _reason_not_to_send(notification: Notification, now: datetime.datetime) -> str:
    """Why the message must not be sent any more ("" when it must)."""
    if notification.details.get(SECRETS_ERASED):
        # Sent again by hand after it failed: its link or code is gone (the entry keeps only a hash).
        return "its link or code was erased when it failed; a new message must be written"
    if notification.appointment_id is None:
        expires = notification.details.get("expires_at")
        if expires and datetime.datetime.fromisoformat(expires) <= now:
            return "what the message offered expired before it was sent"
        return ""
    appointment = notification.appointment
    outdated = appointment.slot.starts_at != notification.appointment_time
    if notification.kind != Kind.CANCELLED and (appointment.status != Appointment.Status.BOOKED or outdated):
        # News of a time that is no longer the appointment's: a later message tells what holds.
        return "the appointment changed before this was sent"
    if notification.kind in REMINDER_KINDS and notification.appointment_time <= now:
        return "the appointment time passed before the reminder was sent"
    last = appointment.office.last_reminder_hours
    if (
        notification.kind == Kind.REMINDER
        and last
        and notification.appointment_time - now <= datetime.timedelta(hours=last)
    ):
        return "the last reminder is due instead"
    return ""


def _send_claimed(
    notification: Notification, now: datetime.datetime, connections: Connections, quotas: dict[int, bool]
) -> str:
    """Send one claimed message of a batch and record what happened."""
    if reason := _reason_not_to_send(notification, now):
        return _record(connections, notification, Status.CANCELLED, error=reason)
    if not _within_sms_quota(notification, now, quotas):
        return _record(connections, notification, Status.CANCELLED, error=OVER_QUOTA[_quota_of(notification)[1]])
    try:
        # Made while the message before is being recorded.
        if notification.appointment_id is None:
            content: str | EmailMultiAlternatives = render_person(notification)
        elif notification.channel == Channel.EMAIL:
            content = _email(notification, render(notification), connections)
        else:
            content = render(notification).sms
    except Exception as exc:
        logger.exception("message not sent notification=%s", notification.pk)
        return _failed(
            notification, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False), now, connections
        )
    connections.wait_in_turn()
    try:
        if isinstance(content, EmailMultiAlternatives):
            provider_id = _deliver_email(content, connections)
        else:
            provider_id = _deliver_sms_text(notification, content, connections)
    except DeliveryError as exc:
        return _failed(notification, exc, now, connections)
    except Exception as exc:
        logger.exception("message not sent notification=%s", notification.pk)
        return _failed(
            notification, DeliveryError(f"unexpected {type(exc).__name__}", permanent=False), now, connections
        )
    return _record(connections, notification, Status.SENT, sent_at=timezone.now(), provider_id=provider_id)


def render_person(notification: Notification) -> str:
    """The SMS to a person without an appointment, in their language and the office's time."""
    office = notification.office
    with translation.override(notification.language), timezone.override(office.zone):
        context = {"details": notification.details, "office": office, "site_url": settings.SITE_URL}
        text = render_to_string(f"notifications/person/{notification.kind}.sms.txt", context)
    return to_gsm7(" ".join(text.split()))


def _takes_sms_quota(notification: Notification) -> bool:
    """An SMS takes the quota on its first attempt only: a retry is the same message."""
    return notification.channel == Channel.SMS and notification.attempts <= 1


def _quota_of(notification: Notification) -> tuple[str, str]:
    """Whose quota an SMS takes, and from which budget: codes have their own (see
    notifications.services)."""
    return notification.recipient, CODES if notification.kind == Kind.PHONE_CODE else SMS


def _take_sms_quotas(notifications: list[Notification], now: datetime.datetime) -> dict[int, bool]:
    """The quota of the batch's SMS that will be sent, taken in one round trip."""
    taking = [n for n in notifications if _takes_sms_quota(n) and _may_be_sent(n, now)]
    return dict(zip([n.pk for n in taking], take_sms_quotas([_quota_of(n) for n in taking], now), strict=True))


def _may_be_sent(notification: Notification, now: datetime.datetime) -> bool:
    try:
        return not _reason_not_to_send(notification, now)
    except Exception:  # noqa: BLE001 - the message fails on its own when it is sent
        return False


def _within_sms_quota(notification: Notification, now: datetime.datetime, quotas: dict[int, bool]) -> bool:
    if not _takes_sms_quota(notification):
        return True
    if notification.pk in quotas:
        return quotas[notification.pk]
    phone, budget = _quota_of(notification)
    return take_sms_quota(phone, now, budget=budget)


def _failed(notification: Notification, error: DeliveryError, now: datetime.datetime, connections: Connections) -> str:
    too_old = now - notification.queued_at > datetime.timedelta(hours=settings.NOTIFICATION_MAX_AGE_HOURS)
    if error.permanent or notification.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS or too_old:
        reason = error.reason if error.permanent else f"gave up after {notification.attempts} attempts: {error.reason}"
        logger.warning("message failed notification=%s reason=%s", notification.pk, reason)
        return _record(connections, notification, Status.FAILED, error=reason)
    retry = Notification.objects.filter(pk=notification.pk, status=Status.SENDING)
    connections.record(
        lambda: retry.update(
            status=Status.PENDING,
            last_error=error.reason,
            due_at=now + backoff(notification.attempts),
            enqueued_at=None,
        )
    )
    return Status.PENDING


def _record(connections: Connections, notification: Notification, status: str, **outcome: Any) -> str:
    connections.record(functools.partial(_finish, notification, status, **outcome))
    return status


def _finish(
    notification: Notification,
    status: str,
    *,
    error: str = "",
    sent_at: datetime.datetime | None = None,
    provider_id: str = "",
) -> str:
    # One statement a message, written out: building it through the ORM cost as much as running it.
    # Every status it writes ends the message: the secrets of its details go.
    details, details_params = without_secrets_sql(connection.vendor)
    columns, values = ["status = %s", f"details = {details}"], [status, *details_params]
    if error:
        columns.append("last_error = %s")
        values.append(error)
    if sent_at:
        columns.append("sent_at = %s, provider_message_id = %s")
        values += [sent_at, provider_id]
    table = connection.ops.quote_name(Notification._meta.db_table)  # noqa: SLF001
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(columns)} WHERE id = %s AND status = %s",  # noqa: S608 - no input
            [*values, notification.pk, Status.SENDING],
        )
    return status
