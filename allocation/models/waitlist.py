"""The waitlist of a first-come office: people who found every day full wait in the order they
joined; a freed place is held for the first one it fits and offered by SMS (allocation/
waitlist_services.py)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from appointments.models import Appointment, DocumentType, Office, Slot
from eligibility.models import Screening

__all__ = ["WaitlistEntry"]

# Plain values, for the constraints (a migration must not depend on the enum's import).
WAITLIST_STATUSES = ["waiting", "offered", "booked", "declined", "missed", "left", "lapsed"]
# Still on the list: one such entry per document and per phone at an office.
ON_THE_LIST = ["waiting", "offered"]


class WaitlistEntry(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Place offered")
        BOOKED = "booked", _("Booked")
        DECLINED = "declined", _("Declined the offer")
        MISSED = "missed", _("Offer not taken in time")
        LEFT = "left", _("Left the list")
        LAPSED = "lapsed", _("Answers too old")

    office = models.ForeignKey(
        Office, verbose_name=_("office"), on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    screening = models.ForeignKey(Screening, verbose_name=_("screening"), on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.WAITING)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now, db_index=True)
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    # The secret of the person's link (the page of their place on the list, or of the place
    # offered), as a SHA-256 hex digest: the link itself is only in the SMS. A new offer makes a
    # new one.
    token_hash = models.CharField(_("link secret (hashed)"), max_length=64, unique=True, editable=False)
    # Personal data, erased by retention (erase_waitlist_entries): the columns the "one entry per
    # document and per phone" constraints need, and what was typed, to fill in the booking.
    full_name = models.CharField(_("full name"), max_length=150)
    document_type = models.CharField(_("document type"), max_length=12, choices=DocumentType.choices)
    document_number = models.CharField(_("document number"), max_length=30)
    document_country = CountryField(_("issuing country"))
    phone = PhoneNumberField(_("mobile phone"))
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    party_size = models.PositiveSmallIntegerField(_("people attending"), default=1)
    details = models.JSONField(_("details"), default=dict, blank=True, editable=False)
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    # The place offered: a hold of the appointments app, lasting WAITLIST_OFFER_MINUTES.
    offer_slot = models.ForeignKey(
        Slot, verbose_name=_("time offered"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer_hold = models.UUIDField(_("hold of the offer"), null=True, blank=True, editable=False)
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True, db_index=True)
    booking_key = models.UUIDField(_("booking key"), null=True, blank=True, editable=False)
    appointment = models.ForeignKey(
        Appointment,
        verbose_name=_("appointment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist")
        ordering = ["office", "joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["office", "document_type", "document_number", "document_country"],
                condition=Q(status__in=ON_THE_LIST),
                name="allocation_waitlist_one_per_document",
            ),
            models.UniqueConstraint(
                fields=["office", "phone"],
                condition=Q(status__in=ON_THE_LIST),
                name="allocation_waitlist_one_per_phone",
            ),
            models.CheckConstraint(condition=Q(status__in=WAITLIST_STATUSES), name="allocation_waitlist_status"),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(offer_slot__isnull=False, offer_expires_at__isnull=False),
                name="allocation_waitlist_offer_has_slot",
            ),
        ]
        indexes = [models.Index(fields=["office", "status", "joined_at"], name="allocation_waitlist_queue")]

    def __str__(self) -> str:
        return f"{self.office} #{self.pk}"
