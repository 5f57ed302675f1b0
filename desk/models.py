"""The queue at an office: its desk settings, counters, and the tickets given at check-in.

An appointment's status (checked in, called, served, no-show) lives on the appointment and changes
only through appointments.services.lifecycle; a ticket records what the queue needs beside it:
the number, the counter, the times."""

import datetime
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment, Office

SCREEN_KEY_BYTES = 24  # 192 bits, 32 URL-safe characters


def new_screen_key() -> str:
    return secrets.token_urlsafe(SCREEN_KEY_BYTES)


class DeskSettings(models.Model):
    """How an office's desk works. Made with the defaults the first time it is needed."""

    office = models.OneToOneField(
        Office, verbose_name=_("office"), on_delete=models.CASCADE, primary_key=True, related_name="desk"
    )
    ticket_prefix = models.CharField(
        _("ticket letter"),
        max_length=2,
        default="A",
        validators=[RegexValidator(r"^[A-Z]{1,2}\Z", _("One or two capital letters, for example A."))],
    )
    check_in_before_minutes = models.PositiveSmallIntegerField(
        _("check-in opens (minutes before the appointment)"), default=60, validators=[MaxValueValidator(24 * 60)]
    )
    check_in_after_minutes = models.PositiveSmallIntegerField(
        _("check-in closes (minutes after the appointment)"), default=30, validators=[MaxValueValidator(24 * 60)]
    )
    closing_grace_minutes = models.PositiveSmallIntegerField(
        _("end of day (minutes after closing)"),
        default=60,
        validators=[MinValueValidator(0), MaxValueValidator(6 * 60)],
        help_text=_("When the day's remaining appointments become no-shows and the queue is closed."),
    )
    walk_ins = models.BooleanField(
        _("desk may book a free place of today"),
        default=False,
        help_text=_("Offices work by appointment only; turn this on to let the desk book a person who is there."),
    )
    call_sms = models.BooleanField(
        _("SMS when a ticket is called"), default=False, help_text=_("“Your turn: counter 3”, through the outbox.")
    )
    screen_key = models.CharField(_("calling screen key"), max_length=64, default=new_screen_key, unique=True)

    class Meta:
        verbose_name = _("desk settings")
        verbose_name_plural = _("desk settings")

    def __str__(self) -> str:
        return str(self.office)

    def check_in_window(self, starts_at: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
        return (
            starts_at - datetime.timedelta(minutes=self.check_in_before_minutes),
            starts_at + datetime.timedelta(minutes=self.check_in_after_minutes),
        )


class Counter(models.Model):
    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.CASCADE, related_name="counters")
    number = models.PositiveSmallIntegerField(_("number"), validators=[MinValueValidator(1), MaxValueValidator(99)])
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("counter")
        verbose_name_plural = _("counters")
        ordering = ["office", "number"]
        constraints = [
            models.UniqueConstraint(fields=["office", "number"], name="desk_counter_once"),
            models.CheckConstraint(condition=Q(number__gte=1), name="desk_counter_number"),
        ]

    def __str__(self) -> str:
        return _("Counter %(number)s") % {"number": self.number}


class TicketSequence(models.Model):
    """The last ticket number given at an office on a day; moved by one atomic upsert."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["office", "day"], name="desk_sequence_once")]

    def __str__(self) -> str:
        return f"{self.office_id} {self.day}: {self.last}"


class Ticket(models.Model):
    appointment = models.OneToOneField(
        Appointment, verbose_name=_("appointment"), on_delete=models.CASCADE, related_name="ticket"
    )
    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.PROTECT, related_name="tickets")
    day = models.DateField(_("day"))
    prefix = models.CharField(_("letter"), max_length=2)
    number = models.PositiveIntegerField(_("number"))
    checked_in_at = models.DateTimeField(_("checked in"))
    counter = models.ForeignKey(
        Counter, verbose_name=_("counter"), null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    called_at = models.DateTimeField(_("called"), null=True, blank=True, db_index=True)
    # The first call, kept when the person is called again: waiting time ends here.
    first_called_at = models.DateTimeField(_("first called"), null=True, blank=True)
    times_called = models.PositiveSmallIntegerField(_("times called"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Closed(models.TextChoices):
        STILL_WAITING = "still_waiting", _("Still waiting when the office closed")

    closed_reason = models.CharField(_("closed because"), max_length=20, choices=Closed.choices, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["office", "day", "number"]
        constraints = [
            models.UniqueConstraint(fields=["office", "day", "number"], name="desk_ticket_number_once"),
            models.CheckConstraint(condition=Q(number__gte=1), name="desk_ticket_number_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        return f"{self.prefix}-{self.number:03d}"
