"""Offices, their opening hours and closures, the slots generated from them, and the holds and
appointments that take the slots' places."""

import datetime
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from eligibility.models import Pathway, Screening, eligible_codes, in_language


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            _("“%(value)s” is not a time zone name such as America/Bogota."), params={"value": value}
        ) from exc


CITY_MAX_LENGTH = 20


class Office(models.Model):
    class Allocation(models.TextChoices):
        FIRST_COME = "first_come", _("First come, first served")
        LOTTERY = "lottery", _("Lottery: a draw among the requests made during a window")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)
    country = CountryField(_("host country"))
    # Every SMS names the city: 20 characters is what their texts leave for it (docs/architecture.md, "Messages").
    city = models.CharField(
        _("city"),
        max_length=80,
        validators=[MaxLengthValidator(CITY_MAX_LENGTH)],
        help_text=_("As people say it, at most 20 characters: every SMS names it."),
    )
    address_en = models.TextField(_("address (English)"))
    address_es = models.TextField(_("address (Spanish)"))
    directions_en = models.TextField(_("directions (English)"), blank=True)
    directions_es = models.TextField(_("directions (Spanish)"), blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, validators=[validate_time_zone], help_text=_("IANA name, e.g. America/Bogota.")
    )
    phone = PhoneNumberField(_("phone"), blank=True)
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive offices take no new bookings."))
    pathways = models.ManyToManyField(Pathway, verbose_name=_("pathways served"), related_name="offices")
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        blank=True,
        related_name="offices",
        help_text=_("Office staff see the appointments of these offices only."),
    )
    slot_minutes = models.PositiveSmallIntegerField(
        _("slot length (minutes)"), default=30, validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    min_notice_hours = models.PositiveSmallIntegerField(
        _("minimum notice (hours)"), default=24, validators=[MaxValueValidator(24 * 30)]
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon (days)"), default=21, validators=[MinValueValidator(1), MaxValueValidator(180)]
    )
    hold_minutes = models.PositiveSmallIntegerField(
        _("hold time (minutes)"), default=10, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    reminder_hours = models.PositiveSmallIntegerField(
        _("reminder (hours before)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 7)]
    )
    last_reminder_hours = models.PositiveSmallIntegerField(
        _("last reminder (hours before)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(48)],
        help_text=_("Optional second reminder, for example 2. Leave empty for none."),
    )
    max_party_size = models.PositiveSmallIntegerField(
        _("largest party size"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("People attending, the applicant included."),
    )
    # In lottery mode the booking pages send people to the office's lottery page (allocation/).
    allocation = models.CharField(
        _("allocation of places"),
        max_length=12,
        choices=Allocation.choices,
        default=Allocation.FIRST_COME,
        help_text=_(
            "With a lottery, people request a place during a window and a published draw decides. Choose it "
            "where places are scarce: first come goes to whoever is there first, and a bot always is."
        ),
    )
    verify_phone = models.BooleanField(
        _("verify the phone number"),
        default=True,
        help_text=_(
            "A 6-digit code is sent by SMS to the number given and must be entered before a booking is "
            "made. Staff booking on a person's behalf skip it."
        ),
    )

    class Meta:
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        ordering = ["city", "name"]
        permissions = [("view_all_offices", _("Can see the appointments of every office"))]
        constraints = [
            models.CheckConstraint(condition=Q(slot_minutes__gte=5), name="appointments_office_slot_minutes"),
            models.CheckConstraint(condition=Q(horizon_days__gte=1), name="appointments_office_horizon"),
            models.CheckConstraint(condition=Q(hold_minutes__gte=1), name="appointments_office_hold_minutes"),
            models.CheckConstraint(condition=Q(max_party_size__gte=1), name="appointments_office_party_size"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.last_reminder_hours and self.reminder_hours and self.last_reminder_hours >= self.reminder_hours:
            raise ValidationError(
                {"last_reminder_hours": _("The last reminder must come closer to the appointment than the first.")}
            )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def address(self) -> str:
        return in_language(self, "address")

    def zone_name(self) -> str:
        """The office's time in words people use ("Guatemala time"), not a tz database name."""
        return gettext("%(country)s time") % {"country": self.country.name}

    def directions(self) -> str:
        return in_language(self, "directions")

    def local_today(self, now: datetime.datetime) -> datetime.date:
        return now.astimezone(self.zone).date()


class OpeningHours(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))
    capacity = models.PositiveSmallIntegerField(
        _("places per slot"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Counters serving at the same time: one appointment each, however many people attend."),
    )

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["office", "weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(opens__lt=F("closes")), name="appointments_hours_open_before_close"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="appointments_hours_weekday"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="appointments_hours_capacity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValidationError({"closes": _("The closing time must be after the opening time.")})


class Closure(models.Model):
    """Days an office (or every office) takes no appointments: holidays, training, emergencies."""

    office = models.ForeignKey(
        Office,
        verbose_name=_("office"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="closures",
        help_text=_("Leave empty to close every office."),
    )
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=200)

    class Meta:
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(starts_on__lte=F("ends_on")), name="appointments_closure_dates"),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on}–{self.ends_on}: {self.reason}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.starts_on > self.ends_on:
            raise ValidationError({"ends_on": _("The last day cannot be before the first day.")})
        if self.starts_on and self.ends_on and (self.ends_on - self.starts_on).days > 366:
            raise ValidationError({"ends_on": _("A closure can last one year at most.")})


class Slot(models.Model):
    """A bookable time at an office. `taken` counts the active appointments and the holds in it;
    the database refuses any write that would put it above the places open (see
    docs/architecture.md). `stranded` counts appointments left in a slot whose capacity was cut
    (a closure), so they stay visible to staff without opening places to anyone else."""

    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveSmallIntegerField(_("places"))
    taken = models.PositiveSmallIntegerField(_("places taken"), default=0, editable=False)
    stranded = models.PositiveSmallIntegerField(_("appointments over capacity"), default=0, editable=False)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["office", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["office", "starts_at"], name="appointments_slot_once"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appointments_slot_ends_after_start"),
            models.CheckConstraint(
                condition=Q(taken__lte=F("capacity") + F("stranded")), name="appointments_slot_within_capacity"
            ),
        ]

    def __str__(self) -> str:
        local = self.starts_at.astimezone(self.office.zone)
        return f"{self.office} {local:%Y-%m-%d %H:%M}"

    def local_start(self) -> datetime.datetime:
        return self.starts_at.astimezone(self.office.zone)

    def local_end(self) -> datetime.datetime:
        return self.ends_at.astimezone(self.office.zone)


class Hold(models.Model):
    """A place kept for one browser session while the applicant types their details."""

    slot = models.ForeignKey(Slot, verbose_name=_("slot"), on_delete=models.PROTECT, related_name="holds")
    # One live hold per screening: a result shared across many browsers cannot sit on every place.
    screening = models.ForeignKey(
        Screening, verbose_name=_("screening"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    token = models.UUIDField(_("token"), unique=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # What the applicant typed on the details page (document number included), kept here and not
    # in the session: it goes when the hold goes (booked, given back, or purged once expired),
    # while a session lives for days.
    details = models.JSONField(_("details"), null=True, blank=True, editable=False)
    # The keyed hash of the address that chose the time (core.limits.client_key), for the cap on
    # live holds per address; empty for staff and moves. Goes with the hold.
    address_key = models.CharField(_("address key"), max_length=64, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        indexes = [models.Index(fields=["address_key", "expires_at"], name="appointments_hold_address")]

    def __str__(self) -> str:
        return str(self.slot)


class PhoneCheck(models.Model):
    """A code sent by SMS to show that a phone number is the person's (appointments.services.
    phone_codes). Only the code's HMAC is kept. A booking's check belongs to its hold and goes with
    it (booked, given back or expired); `hold` is empty for a flow that links its own."""

    hold = models.OneToOneField(
        Hold, verbose_name=_("hold"), null=True, blank=True, on_delete=models.CASCADE, related_name="phone_check"
    )
    # The number the last code went to (E.164), and that code's HMAC; empty once used or void.
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    code_hmac = models.CharField(_("code (HMAC)"), max_length=64, blank=True, editable=False)
    sent_at = models.DateTimeField(_("last code sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("code expires"), null=True, blank=True)
    sends = models.PositiveSmallIntegerField(_("codes sent"), default=0)
    failures = models.PositiveSmallIntegerField(_("wrong codes entered"), default=0)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("phone check")
        verbose_name_plural = _("phone checks")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.pk}"


class DocumentType(models.TextChoices):
    PASSPORT = "passport", _("Passport")
    NATIONAL_ID = "national_id", _("National identity card")
    RESIDENCE = "residence", _("Residence or migration document")
    OTHER = "other", _("Other identity document")


# Plain values, for the constraints (a migration must not depend on the enum's import).
ALL_STATUSES = ["booked", "checked_in", "called", "served", "no_show", "cancelled"]
# The person still has this appointment to attend or is at the office: one per document.
ACTIVE_STATUSES = ["booked", "checked_in", "called"]


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        CHECKED_IN = "checked_in", _("Checked in")
        CALLED = "called", _("Called")
        SERVED = "served", _("Served")
        NO_SHOW = "no_show", _("No-show")
        CANCELLED = "cancelled", _("Cancelled")

    reference = models.CharField(_("reference"), max_length=12, unique=True, editable=False)
    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.PROTECT, related_name="appointments")
    slot = models.ForeignKey(Slot, verbose_name=_("slot"), on_delete=models.PROTECT, related_name="appointments")
    screening = models.ForeignKey(Screening, verbose_name=_("screening"), on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.BOOKED)
    # Goes up by one on every change; signed manage links and confirm forms carry it, so a change
    # voids them.
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)
    booking_key = models.UUIDField(_("booking key"), unique=True, editable=False)
    full_name = models.CharField(_("full name"), max_length=150)
    # Empty once the personal data is erased (RETENTION_DAYS after the appointment): only the age
    # band at the appointment stays.
    date_of_birth = models.DateField(_("date of birth"), null=True)
    age_band = models.CharField(_("age band"), max_length=8, blank=True)
    nationality = CountryField(_("nationality"))
    document_type = models.CharField(_("document type"), max_length=12, choices=DocumentType.choices)
    document_number = models.CharField(_("document number"), max_length=30)
    document_country = CountryField(_("issuing country"))
    phone = PhoneNumberField(_("mobile phone"))
    email = models.EmailField(_("e-mail"), blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    party_size = models.PositiveSmallIntegerField(_("people attending"), default=1)
    companions = models.JSONField(
        _("family members attending"), default=list, blank=True, help_text=_("Name and age of each.")
    )
    consent_at = models.DateTimeField(_("privacy notice accepted"))
    created_at = models.DateTimeField(_("booked"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["slot__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number", "document_country"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="appointments_one_active_per_document",
                violation_error_message=_("There is already an appointment for this identity document."),
            ),
            models.CheckConstraint(condition=Q(status__in=ALL_STATUSES), name="appointments_status_valid"),
            models.CheckConstraint(condition=Q(party_size__gte=1), name="appointments_party_size"),
        ]

    def __str__(self) -> str:
        return self.display_reference

    @property
    def display_reference(self) -> str:
        """The reference in groups of three, easier to read aloud and to type."""
        return "-".join(self.reference[i : i + 3] for i in range(0, len(self.reference), 3))

    def what_to_bring(self, language: str) -> list[str]:
        """The "what to bring" texts of the pathways the screening fits and the office serves, in
        the pathways' order (the texts the screening was shown, so later edits never change them)."""
        served = {pathway.code for pathway in self.office.pathways.all()}  # the outbox prefetches them
        outcomes = self.screening.outcomes
        brings = [outcomes[code].get("bring", {}) for code in eligible_codes(outcomes) if code in served]
        return [text for bring in brings if (text := bring.get(language) or bring.get("en", ""))]

    def clean(self) -> None:
        if self.companions and len(self.companions) != self.party_size - 1:
            raise ValidationError({"companions": _("List each family member attending.")})


class AppointmentEvent(models.Model):
    """The audit trail: one row for every change of an appointment."""

    class Action(models.TextChoices):
        BOOKED = "booked", _("Booked")
        MOVED = "moved", _("Moved")
        CANCELLED = "cancelled", _("Cancelled")
        CHECKED_IN = "checked_in", _("Checked in")
        CALLED = "called", _("Called")
        RECALLED = "recalled", _("Called again")
        REQUEUED = "requeued", _("Sent back to the waiting list")
        SERVED = "served", _("Served")
        NO_SHOW = "no_show", _("Marked as no-show")

    class By(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")

    appointment = models.ForeignKey(
        Appointment, verbose_name=_("appointment"), on_delete=models.CASCADE, related_name="events"
    )
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    by = models.CharField(_("by whom"), max_length=10, choices=By.choices, default=By.APPLICANT)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("appointment event")
        verbose_name_plural = _("appointment events")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        # Shown above each row of the trail in the admin, where the time is in the office's zone.
        return self.get_action_display()


class OfficeEvent(models.Model):
    """The audit trail of an office's set-up: who changed its details, hours, closures, staff or
    desk, when, and what changed."""

    class Action(models.TextChoices):
        CREATED = "created", _("Office created")
        CHANGED = "changed", _("Office changed")
        CLOSURE_ADDED = "closure_added", _("Closure added")
        CLOSURE_CHANGED = "closure_changed", _("Closure changed")
        CLOSURE_DELETED = "closure_deleted", _("Closure deleted")
        CLOSURE_MOVE = "closure_move", _("Appointments of a closure moved")
        CLOSURE_CANCEL = "closure_cancel", _("Appointments of a closure cancelled")
        SCREEN_LINK_ROTATED = "screen_link_rotated", _("New calling screen link")

    office = models.ForeignKey(Office, verbose_name=_("office"), on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("office event")
        verbose_name_plural = _("office events")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return self.get_action_display()


class ClosureRun(models.Model):
    """Staff handling the appointments a closure left behind, in bulk: move each to the nearest
    free time, or cancel each; run by a Celery task, with its progress and what it did."""

    class Action(models.TextChoices):
        MOVE = "move", _("Move each to the nearest free time")
        CANCEL = "cancel", _("Cancel each")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    closure = models.ForeignKey(Closure, verbose_name=_("closure"), on_delete=models.CASCADE, related_name="runs")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    # The offices the member of staff could see when they started it: the run touches no other.
    office_ids = models.JSONField(_("offices"), default=list)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("appointments"), default=0)
    done = models.PositiveIntegerField(_("handled"), default=0)
    moved = models.PositiveIntegerField(_("moved"), default=0)
    cancelled = models.PositiveIntegerField(_("cancelled"), default=0)
    unplaced = models.JSONField(_("could not be placed"), default=list, blank=True)
    # Changed meanwhile (by the person, or another run), or its time has come: left as it is.
    skipped = models.JSONField(_("left as they were"), default=list, blank=True)

    class Meta:
        verbose_name = _("closure run")
        verbose_name_plural = _("closure runs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_status_display()})"
