"""The outbox: one row per message to send, written in the transaction of the change it tells of."""

from typing import Any

from django.db import models
from django.db.models import Q
from django.db.models.expressions import Expression
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment, Office

# Keys of a message's `details` that hold a secret: a link carrying a token (a waitlist place, a
# lottery offer) or a phone code. Kept while the message may still be sent; removed once it is sent,
# cancelled or failed for good, by every statement that ends a message (without_secrets_sql), which
# marks the details with SECRETS_ERASED so the message is never sent again without them.
SECRET_DETAILS = ("url", "code")
SECRETS_ERASED = "secrets_erased"


def without_secrets_sql(vendor: str) -> tuple[str, list]:
    """SQL (and its parameters) for the row's details without its secrets, marked SECRETS_ERASED
    when there were any: PostgreSQL's jsonb operators in production and tests, SQLite's JSON
    functions for `make run`'s embedded database."""
    if vendor == "sqlite":
        paths = [f"$.{key}" for key in SECRET_DETAILS]
        present = " OR ".join("json_type(details, %s) IS NOT NULL" for _path in paths)
        removed = ", ".join("%s" for _path in paths)
        return (
            f"CASE WHEN {present} THEN json_set(json_remove(details, {removed}), %s, json('true')) ELSE details END",
            [*paths, *paths, f"$.{SECRETS_ERASED}"],
        )
    return (
        "CASE WHEN details ?| %s THEN (details - %s::text[]) || jsonb_build_object(%s::text, true) ELSE details END",
        [list(SECRET_DETAILS), list(SECRET_DETAILS), SECRETS_ERASED],
    )


class WithoutSecrets(Expression):
    """The row's details without its secrets, for an UPDATE (queryset.update) that ends messages."""

    output_field = models.JSONField()

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list]:
        return without_secrets_sql(connection.vendor)


def without_secrets() -> WithoutSecrets:
    return WithoutSecrets()


class Notification(models.Model):
    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Confirmation")
        MOVED = "moved", _("Moved")
        CANCELLED = "cancelled", _("Cancelled")
        REMINDER = "reminder", _("Reminder")
        LAST_REMINDER = "last_reminder", _("Last reminder")
        TURN = "turn", _("Your turn (ticket called)")
        # Messages to a person who has no appointment yet (notify_person): no appointment row.
        PHONE_CODE = "phone_code", _("Phone code")
        WAITLIST = "waitlist", _("Waitlist")
        LOTTERY = "lottery", _("Lottery")

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    appointment = models.ForeignKey(
        Appointment,
        verbose_name=_("appointment"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    # The office a message to a person without an appointment is about (its staff see it).
    office = models.ForeignKey(
        Office, verbose_name=_("office"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    language = models.CharField(_("language"), max_length=8)
    # The appointment's start when the message was written: a reminder exists once per time.
    appointment_time = models.DateTimeField(_("appointment time"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    # When it was (re)queued: retries stop NOTIFICATION_MAX_AGE_HOURS after this.
    queued_at = models.DateTimeField(_("queued"), default=timezone.now)
    enqueued_at = models.DateTimeField(_("handed to the broker"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # What the text needs beyond the appointment (the ticket and counter of a "your turn").
    details = models.JSONField(_("details"), default=dict, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind", "channel", "appointment_time"], name="notifications_once_per_time"
            ),
            # A message belongs to an appointment (with its time) or, without one, to an office.
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, appointment_time__isnull=False)
                | Q(appointment__isnull=True, office__isnull=False),
                name="notifications_appointment_or_office",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "cancelled"]),
                name="notifications_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="notifications_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_channel_display()} · {self.appointment or self.office}"

    @property
    def about_office(self) -> Office:
        """The office whose time and staff the message belongs to."""
        return self.appointment.office if self.appointment_id else self.office
