"""The lottery: an office allocates the free places of a period by a draw among the requests made
during a window. The seed's SHA-256 is published when the window opens and the seed itself after
the draw, so anyone can recompute the order (docs/lottery.md)."""

from typing import Any

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import BigIntegerRangeField, DateRangeField, DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from appointments.models import Appointment, DocumentType, Office, Slot
from eligibility.models import Screening

__all__ = ["Draw", "LotteryRequest"]


class PostgresExclusion(ExclusionConstraint):
    """An exclusion constraint in PostgreSQL, and nothing in the local demo's SQLite (which has
    none: there the model's clean() is the only check). Its validate() does nothing: the model's
    clean() says the same in words, naming what it overlaps."""

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().constraint_sql(model, schema_editor) if schema_editor.connection.vendor == "postgresql" else None

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().create_sql(model, schema_editor) if schema_editor.connection.vendor == "postgresql" else None

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        return super().remove_sql(model, schema_editor) if schema_editor.connection.vendor == "postgresql" else None

    def validate(self, *args: Any, **kwargs: Any) -> None:
        return None


def _office_range() -> Func:
    # The office as a one-value range: GiST compares ranges with `=` without the btree_gist
    # extension (which needs a superuser to install).
    return Func(F("office"), F("office"), Value("[]"), function="int8range", output_field=BigIntegerRangeField())


def _window_range() -> Func:
    # Half-open: a window may open when another closes.
    return Func(F("opens_at"), F("closes_at"), Value("[)"), function="tstzrange", output_field=DateTimeRangeField())


def _period_range() -> Func:
    return Func(F("period_start"), F("period_end"), Value("[]"), function="daterange", output_field=DateRangeField())


class Draw(models.Model):
    """One lottery of an office: its request window, the period whose free places it allocates,
    its seed (hash published from the window's opening, seed revealed after the draw)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        OPEN = "open", _("Taking requests")
        DRAWN = "drawn", _("Drawn")

    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.PROTECT, related_name="draws")
    opens_at = models.DateTimeField(_("requests open"))
    closes_at = models.DateTimeField(_("requests close (the draw)"))
    period_start = models.DateField(_("first day of the places"))
    period_end = models.DateField(_("last day of the places"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    seed = models.CharField(_("seed"), max_length=64, blank=True, editable=False)
    seed_hash = models.CharField(_("SHA-256 of the seed"), max_length=64, blank=True, editable=False)
    places = models.PositiveIntegerField(_("places at the draw"), null=True, blank=True, editable=False)
    drawn_at = models.DateTimeField(_("drawn"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("lottery draw")
        verbose_name_plural = _("lottery draws")
        ordering = ["-closes_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="allocation_draw_window"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="allocation_draw_period"),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "open", "drawn"]), name="allocation_draw_status_valid"
            ),
            # An open or drawn draw has its seed's hash published.
            models.CheckConstraint(
                condition=Q(status="scheduled") | ~Q(seed_hash=""), name="allocation_draw_hash_published"
            ),
            # Two draws of one office never take requests at the same time, nor give the places
            # of the same day (clean() says so in words; these settle a race).
            PostgresExclusion(
                name="allocation_draw_windows_apart",
                expressions=[(_office_range(), RangeOperators.EQUAL), (_window_range(), RangeOperators.OVERLAPS)],
            ),
            PostgresExclusion(
                name="allocation_draw_periods_apart",
                expressions=[(_office_range(), RangeOperators.EQUAL), (_period_range(), RangeOperators.OVERLAPS)],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.period_start}–{self.period_end}"

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("Requests must close after they open.")})
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValidationError({"period_end": _("The last day cannot be before the first day.")})
        if (
            self.closes_at
            and self.period_start
            and self.office_id
            and self.period_start <= self.office.local_today(self.closes_at)
        ):
            raise ValidationError(
                {"period_start": _("The places must be on days after the draw, so winners have time to confirm.")}
            )
        if self.office_id and self.opens_at and self.closes_at and self.period_start and self.period_end:
            self._check_apart()

    def _check_apart(self) -> None:
        """No other draw of the office takes requests at the same time or gives the same days."""
        others = Draw.objects.filter(office_id=self.office_id).exclude(pk=self.pk).order_by("opens_at")
        errors = []
        window = others.filter(opens_at__lt=self.closes_at, closes_at__gt=self.opens_at).first()
        if window is not None:
            errors.append(
                ValidationError(
                    _(
                        "This window overlaps the requests of another draw of this office (%(opens)s to "
                        "%(closes)s). An office takes requests for one draw at a time."
                    ),
                    code="window_overlap",
                    params={"opens": self._local(window.opens_at), "closes": self._local(window.closes_at)},
                )
            )
        period = others.filter(period_start__lte=self.period_end, period_end__gte=self.period_start).first()
        if period is not None:
            errors.append(
                ValidationError(
                    _(
                        "These days overlap the days of another draw of this office (%(first)s to %(last)s). "
                        "The places of a day are given by one draw only."
                    ),
                    code="period_overlap",
                    params={
                        "first": date_format(period.period_start, "SHORT_DATE_FORMAT"),
                        "last": date_format(period.period_end, "SHORT_DATE_FORMAT"),
                    },
                )
            )
        if errors:
            raise ValidationError(errors)

    def _local(self, moment: Any) -> str:
        return date_format(timezone.localtime(moment, self.office.zone), "SHORT_DATETIME_FORMAT")


class LotteryRequest(models.Model):
    """A person's request for a place in a draw: one per identity document and per phone number.
    Its public number (no personal data) is what the published list and the order show."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Waiting for the draw or a place")
        OFFERED = "offered", _("Place offered")
        BOOKED = "booked", _("Confirmed")
        PASSED = "passed", _("Not confirmed in time: passed down")
        DECLINED = "declined", _("Declined, passed down")

    draw = models.ForeignKey(Draw, verbose_name=_("draw"), on_delete=models.CASCADE, related_name="requests")
    number = models.CharField(_("request number"), max_length=12, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    # Place in the drawn order (1 is first), set by the draw.
    position = models.PositiveIntegerField(_("place in the order"), null=True, blank=True, editable=False)
    screening = models.ForeignKey(
        Screening, verbose_name=_("screening"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # As the booking compares them (appointments.services.booking): the one-per-person rules.
    document_type = models.CharField(_("document type"), max_length=12, choices=DocumentType.choices)
    document_number = models.CharField(_("document number"), max_length=30)
    document_country = CountryField(_("issuing country"))
    phone = PhoneNumberField(_("mobile phone"))
    full_name = models.CharField(_("full name"), max_length=150)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    # Everything typed on the request page (DetailsForm.as_typed), to book when a place is confirmed.
    details = models.JSONField(_("details"), default=dict, editable=False)
    booking_key = models.UUIDField(_("booking key"), unique=True, editable=False)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    # The offer: the place held for the person (a hold in appointments) and the link's token, hashed.
    slot = models.ForeignKey(
        Slot, verbose_name=_("place offered"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hold_token = models.UUIDField(_("hold"), null=True, blank=True, editable=False)
    offer_token_hash = models.CharField(
        _("offer link (hashed)"), max_length=64, unique=True, null=True, blank=True, editable=False
    )
    offered_at = models.DateTimeField(_("offered"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True, db_index=True)
    booked_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    passed_at = models.DateTimeField(_("passed down"), null=True, blank=True)
    appointment = models.ForeignKey(
        Appointment,
        verbose_name=_("appointment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("lottery request")
        verbose_name_plural = _("lottery requests")
        ordering = ["draw", "position", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["draw", "document_type", "document_number", "document_country"],
                condition=Q(erased_at__isnull=True),
                name="allocation_lottery_one_per_document",
            ),
            models.UniqueConstraint(
                fields=["draw", "phone"], condition=Q(erased_at__isnull=True), name="allocation_lottery_one_per_phone"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["requested", "offered", "booked", "passed", "declined"]),
                name="allocation_lottery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.number
