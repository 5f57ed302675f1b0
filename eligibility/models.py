"""The screener as data: versions of questions, host-country tables and pathway rules, and the
anonymous screenings they produce."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from eligibility import rules


def in_language(obj: Any, field: str, language: str | None = None) -> str:
    """`obj.<field>_es` or `obj.<field>_en`, in the active language, falling back to English."""
    language = (language or get_language() or "es")[:2]
    return getattr(obj, f"{field}_{language}", "") or getattr(obj, f"{field}_en")


class ScreenerVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    number = models.PositiveIntegerField(_("number"), unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(_("notes"), blank=True, help_text=_("What changed in this version and why."))
    based_on = models.ForeignKey(
        "self", verbose_name=_("based on"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("screener version")
        verbose_name_plural = _("screener versions")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="published"), name="eligibility_one_published_version"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "retired"]), name="eligibility_version_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return _("Version %(number)s (%(status)s)") % {"number": self.number, "status": self.get_status_display()}

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class VersionedContent(models.Model):
    """Content that belongs to one screener version and is frozen once the version is published."""

    version = models.ForeignKey(ScreenerVersion, verbose_name=_("version"), on_delete=models.CASCADE)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse_if_frozen()
        return super().delete(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.version_id and not self.version.is_editable:
            raise ValidationError(_("A published version cannot be changed. Create a new draft from it instead."))

    def _refuse_if_frozen(self) -> None:
        # The last line of defence for code that skips clean(): published rules never change.
        if self.version_id and not ScreenerVersion.objects.filter(pk=self.version_id, status="draft").exists():
            raise ValidationError(_("A published version cannot be changed. Create a new draft from it instead."))


class Pathway(models.Model):
    code = models.SlugField(_("code"), unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_es = models.CharField(_("name (Spanish)"), max_length=120)
    description_en = models.TextField(_("description (English)"))
    description_es = models.TextField(_("description (Spanish)"))
    bring_en = models.TextField(_("what to bring (English)"), blank=True)
    bring_es = models.TextField(_("what to bring (Spanish)"), blank=True)
    # Haitian Creole is optional: where it is empty, Creole readers get the English.
    name_ht = models.CharField(_("name (Haitian Creole)"), max_length=120, blank=True)
    description_ht = models.TextField(_("description (Haitian Creole)"), blank=True)
    bring_ht = models.TextField(_("what to bring (Haitian Creole)"), blank=True)
    order = models.PositiveSmallIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("pathway")
        verbose_name_plural = _("pathways")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return in_language(self, "name")

    def clean(self) -> None:
        super().clean()
        if bool(self.bring_en.strip()) != bool(self.bring_es.strip()):
            field = "bring_es" if self.bring_en.strip() else "bring_en"
            raise ValidationError({field: _("Give what to bring in both languages, or in neither.")})


class LegalStatus(models.TextChoices):
    """Answers to the `legal_status` question that host countries can require."""

    ASYLUM_SEEKER = "asylum_seeker", _("Registered asylum seeker")
    REFUGEE = "refugee", _("Recognised refugee")
    REGULARIZATION = "regularization", _("Applied to the host country's regularization process")
    NONE = "none", _("None of these")


class HostCountry(VersionedContent):
    country = CountryField(_("country"))
    nationalities = CountryField(_("nationalities served"), multiple=True)
    presence_cutoff = models.DateField(
        _("presence cut-off"),
        null=True,
        blank=True,
        help_text=_("Applicants who are not nationals must have arrived on or before this date."),
    )
    statuses = models.JSONField(
        _("required status"),
        default=list,
        blank=True,
        help_text=_("Codes of the legal statuses accepted (asylum_seeker, refugee, regularization); empty for none."),
    )

    class Meta:
        verbose_name = _("host country")
        verbose_name_plural = _("host countries")
        ordering = ["country"]
        constraints = [models.UniqueConstraint(fields=["version", "country"], name="eligibility_host_once_per_version")]

    def __str__(self) -> str:
        return str(self.country.name)

    def clean(self) -> None:
        super().clean()
        valid = set(LegalStatus.values) - {LegalStatus.NONE}
        if not isinstance(self.statuses, list) or not set(self.statuses) <= valid:
            raise ValidationError(
                {"statuses": _("Use a list of these codes: %(codes)s.") % {"codes": ", ".join(sorted(valid))}}
            )

    def as_rule(self) -> rules.HostRule:
        return rules.HostRule(
            nationalities=frozenset(str(code) for code in self.nationalities),
            presence_cutoff=self.presence_cutoff,
            statuses=frozenset(self.statuses),
        )


class Question(VersionedContent):
    class Kind(models.TextChoices):
        YES_NO = "yes_no", _("Yes or no")
        CHOICE = "choice", _("One choice")
        COUNTRY = "country", _("Country")
        DATE = "date", _("Date")
        NUMBER = "number", _("Number")

    key = models.SlugField(_("key"), help_text=_("How rules refer to the answer, e.g. nationality."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    order = models.PositiveSmallIntegerField(_("order"))
    label_en = models.CharField(_("question (English)"), max_length=300)
    label_es = models.CharField(_("question (Spanish)"), max_length=300)
    hint_en = models.TextField(_("hint (English)"), blank=True)
    hint_es = models.TextField(_("hint (Spanish)"), blank=True)
    label_ht = models.CharField(_("question (Haitian Creole)"), max_length=300, blank=True)
    hint_ht = models.TextField(_("hint (Haitian Creole)"), blank=True)
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_('For "one choice": a list of {"value": ..., "en": ..., "es": ..., "ht": ...} ("ht" optional).'),
    )
    condition = models.JSONField(
        _("asked when"),
        null=True,
        blank=True,
        help_text=_("A condition over earlier answers; empty to always ask."),
    )

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="eligibility_question_key_once_per_version"),
            models.UniqueConstraint(fields=["version", "order"], name="eligibility_question_order_once_per_version"),
        ]

    def __str__(self) -> str:
        return self.key

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.condition is not None:
            try:
                rules.validate(self.condition, "condition")
                if self.version_id:
                    earlier = Question.objects.filter(version_id=self.version_id, order__lt=self.order or 0)
                    rules.check_references(self.condition, question_specs(earlier), "condition")
            except rules.RuleError as exc:
                errors["condition"] = str(exc)
        if bool(self.hint_en.strip()) != bool(self.hint_es.strip()):
            errors["hint_es" if self.hint_en.strip() else "hint_en"] = _(
                "Give the hint in both languages, or in neither."
            )
        if self.kind == self.Kind.CHOICE:
            problem = choices_problem(self.choices)
            if problem:
                errors["choices"] = problem
        elif self.choices:
            errors["choices"] = _("Only one-choice questions have choices.")
        if errors:
            raise ValidationError(errors)

    def spec(self) -> rules.QuestionSpec:
        if self.kind == self.Kind.YES_NO:
            return rules.QuestionSpec(self.kind, frozenset({"yes", "no"}))
        if self.kind == self.Kind.CHOICE:
            return rules.QuestionSpec(self.kind, frozenset(c.get("value") for c in self.choices if isinstance(c, dict)))
        return rules.QuestionSpec(self.kind)

    def label(self) -> str:
        return in_language(self, "label")

    def hint(self) -> str:
        return in_language(self, "hint")

    def choice_labels(self) -> list[tuple[str, str]]:
        language = (get_language() or "es")[:2]
        return [(choice["value"], choice.get(language) or choice["en"]) for choice in self.choices]


def question_specs(questions: Any) -> dict[str, rules.QuestionSpec]:
    return {question.key: question.spec() for question in questions}


def choices_problem(choices: Any) -> str | None:
    """Why a one-choice question's choices are invalid, or None."""
    if not isinstance(choices, list) or len(choices) < 2:
        return str(_("Give at least two choices."))
    values = []
    for index, choice in enumerate(choices):
        if (
            not isinstance(choice, dict)
            or not {"value", "en", "es"} <= set(choice) <= {"value", "en", "es", "ht"}
            or not all(isinstance(v, str) and v.strip() for v in choice.values())
        ):
            return str(
                _('Choice %(index)s: expected {"value": ..., "en": ..., "es": ...} and optionally "ht".')
                % {"index": index + 1}
            )
        values.append(choice["value"])
    if len(set(values)) != len(values):
        return str(_("Each choice needs its own value."))
    return None


class PathwayRule(VersionedContent):
    pathway = models.ForeignKey(Pathway, verbose_name=_("pathway"), on_delete=models.PROTECT)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Whether applicants screened with this version are told about it.")
    )
    condition = models.JSONField(_("eligible when"))

    class Meta:
        verbose_name = _("pathway rule")
        verbose_name_plural = _("pathway rules")
        ordering = ["version", "pathway__order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "pathway"], name="eligibility_rule_once_per_version"),
        ]

    def __str__(self) -> str:
        return str(self.pathway)

    def clean(self) -> None:
        super().clean()
        try:
            rules.validate(self.condition, "condition")
            if self.version_id:
                specs = question_specs(Question.objects.filter(version_id=self.version_id))
                rules.check_references(self.condition, specs, "condition")
            place = rules.missing_reason(self.condition, "condition")
            if place:
                raise rules.RuleError(
                    _('%(path)s: needs a "reason" to show the applicant when it is not met') % {"path": place}
                )
        except rules.RuleError as exc:
            raise ValidationError({"condition": str(exc)}) from exc


class Screening(models.Model):
    """One anonymous screener result. It holds no name, contact, document or IP address; the date
    of birth is reduced to the age on the day of the screening."""

    version = models.ForeignKey(ScreenerVersion, verbose_name=_("version"), on_delete=models.PROTECT)
    host_country = CountryField(_("host country"), blank=True)
    answers = models.JSONField(_("answers"))
    outcomes = models.JSONField(
        _("outcomes"), help_text=_("Per pathway code: eligible, and the reasons in English and Spanish.")
    )
    language = models.CharField(_("language"), max_length=8)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    # When the answers were reduced to what booking and statistics need (at booking, or unused
    # after SCREENING_RETENTION_DAYS).
    minimised_at = models.DateTimeField(_("answers reduced"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return _("Screening %(id)s") % {"id": self.pk}

    @property
    def eligible_pathways(self) -> list[str]:
        return eligible_codes(self.outcomes)


class ScreenerStart(models.Model):
    """How many screeners were started (a first answer given) in an hour, per host country: an
    anonymous count for the reports' funnel, one row per hour and country whatever the number.
    Hours in UTC, so the reports can count the days of each office's own time zone."""

    hour = models.DateTimeField(_("hour"))
    host_country = CountryField(_("host country"), blank=True)
    started = models.PositiveIntegerField(_("started"), default=0)

    class Meta:
        verbose_name = _("screeners started")
        verbose_name_plural = _("screeners started")
        default_permissions = ("view",)
        constraints = [models.UniqueConstraint(fields=["hour", "host_country"], name="eligibility_start_once")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.host_country}: {self.started}"


def eligible_codes(outcomes: Any) -> list[str]:
    """The pathway codes a screening's outcomes found eligible, in the pathways' display order
    (a stable sort: outcomes are stored in that order already)."""
    if not isinstance(outcomes, dict):
        return []
    found = [
        (outcome.get("order", 0), code)
        for code, outcome in outcomes.items()
        if isinstance(outcome, dict) and outcome.get("eligible")
    ]
    return [code for _order, code in sorted(found, key=lambda item: item[0])]
