"""Writes of the screener: recording a screening, drafting and publishing versions, and the signed
reference that carries an eligible screening to the booking."""

import datetime
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from eligibility import rules
from eligibility.models import HostCountry, PathwayRule, Question, ScreenerStart, ScreenerVersion, Screening
from eligibility.selectors import Screener, first_unanswered, forget_screeners

REFERENCE_SALT = "eligibility.screening-reference"


class ScreeningError(Exception):
    """A screener action that cannot be done; the message is translated and safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def evaluate_pathways(
    *, screener: Screener, answers: dict[str, Any], today: datetime.date, active_only: bool = True
) -> dict[str, tuple[PathwayRule, rules.Outcome]]:
    """Each pathway's outcome under the version's rules, in display order. Whether a pathway is
    active belongs to the version too, so a screening in progress is never changed."""
    pathway_rules = PathwayRule.objects.filter(version=screener.version).select_related("pathway")
    if active_only:
        pathway_rules = pathway_rules.filter(active=True)
    context = screener.context(today)
    return {
        rule.pathway.code: (rule, rules.evaluate(rule.condition, answers, context))
        for rule in pathway_rules.order_by("pathway__order", "pathway__code")
    }


STATUS_PHRASES = {
    "asylum_seeker": gettext_lazy("registered asylum seekers"),
    "refugee": gettext_lazy("recognised refugees"),
    "regularization": gettext_lazy("people who applied to its regularization process"),
}


def _one_of(items: list[str]) -> str:
    """ "A, B or C" in the active language."""
    if len(items) < 2:
        return "".join(items)
    return _("%(items)s or %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}


def _localised_fact(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    if name in ("country", "nationality"):
        return str(countries.name(value) or value)
    if name == "nationalities":
        return _one_of(sorted(str(countries.name(code) or code) for code in value))
    if name == "statuses":
        return _one_of([str(STATUS_PHRASES.get(code, code)) for code in value])
    return str(value)


def fill_facts(text: dict[str, str], facts: dict[str, Any]) -> dict[str, str]:
    """A reason's texts with the facts of its test written in each text's own language."""
    filled = {}
    for language, value in text.items():
        with translation.override(language):
            names = {name: _localised_fact(name, facts.get(name)) for name in rules.FACTS}
            filled[language] = value % names
    return filled


def is_finished(screener: Screener, answers: dict[str, Any], today: datetime.date) -> bool:
    """Every question that applies is answered, or no pathway can fit whatever comes next."""
    applicable, kept = screener.walk(answers, today)
    return first_unanswered(applicable, kept) is None or screener.ruled_out(kept, today)


def count_start(*, host_country: str, now: datetime.datetime | None = None) -> None:
    """One more screener started this hour in this host country (one row per UTC hour and
    country: the reports count each office's days in its own time zone)."""
    hour = (now or timezone.now()).astimezone(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    if ScreenerStart.objects.filter(hour=hour, host_country=host_country).update(started=F("started") + 1):
        return
    try:
        with transaction.atomic():
            ScreenerStart.objects.create(hour=hour, host_country=host_country, started=1)
    except IntegrityError:
        # Another request made this hour's row between the two statements.
        ScreenerStart.objects.filter(hour=hour, host_country=host_country).update(started=F("started") + 1)


def record_screening(*, screener: Screener, answers: dict[str, Any], language: str) -> Screening:
    """Store the anonymous result of a finished screener (or of one stopped early because no
    pathway can fit) and return it."""
    today = timezone.localdate()
    kept = screener.walk(answers, today)[1]
    if not is_finished(screener, kept, today):
        raise ScreeningError(_("Some questions have not been answered yet."))
    # The result keeps the texts it was given, so editing a pathway later never rewrites it.
    outcomes = {
        code: {
            "eligible": outcome.passed,
            "reasons": outcome.met_reasons(fill_facts) if outcome.passed else outcome.unmet_reasons(fill_facts),
            "order": rule.pathway.order,
            **{
                field: {
                    language: getattr(rule.pathway, f"{field}_{language}")
                    for language in rules.LANGUAGES
                    if getattr(rule.pathway, f"{field}_{language}", "")
                }
                for field in ("name", "description", "bring")
            },
        }
        for code, (rule, outcome) in evaluate_pathways(screener=screener, answers=kept, today=today).items()
    }
    stored = dict(kept)
    born = rules.parse_date(stored.pop("date_of_birth", None))
    if born is not None:
        # Data minimisation: the age is what the rules needed; the birth date is not kept.
        stored["age"] = rules.age_on(born, today)
    screening = Screening(
        version=screener.version,
        host_country=kept.get(rules.CURRENT_COUNTRY, "") if kept.get(rules.CURRENT_COUNTRY) in screener.hosts else "",
        answers=stored,
        outcomes=outcomes,
        language=language,
    )
    screening.full_clean()
    screening.save()
    return screening


# What a screening keeps once it is used for a booking, or once it can no longer be: what booking
# and the statistics need. Arrival dates, legal status, the fear-of-persecution answer, relatives,
# job offers and the reasons written with them are dropped.
KEPT_ANSWERS = (rules.CURRENT_COUNTRY, rules.NATIONALITY)
KEPT_OUTCOME = ("eligible", "order", "name", "description", "bring")


def minimised_outcomes(outcomes: Any) -> dict[str, Any]:
    """A screening's outcomes with only what booking and the statistics need (KEPT_OUTCOME)."""
    outcomes = outcomes if isinstance(outcomes, dict) else {}
    return {
        code: {key: value for key, value in outcome.items() if key in KEPT_OUTCOME}
        for code, outcome in outcomes.items()
        if isinstance(outcome, dict)
    }


def minimise_screenings(*, ids: list[int], now: datetime.datetime) -> int:
    """Reduce these screenings' answers and outcomes to what booking and the statistics need;
    running it again changes nothing. Returns how many were reduced."""
    screenings = list(Screening.objects.filter(pk__in=ids, minimised_at__isnull=True))
    for screening in screenings:
        answers = screening.answers if isinstance(screening.answers, dict) else {}
        screening.answers = {key: answers[key] for key in KEPT_ANSWERS if key in answers}
        screening.outcomes = minimised_outcomes(screening.outcomes)
        screening.minimised_at = now
    Screening.objects.bulk_update(screenings, ["answers", "outcomes", "minimised_at"])
    return len(screenings)


def screening_reference(screening: Screening) -> str:
    """A signed, URL-safe reference to a screening, for the booking."""
    return signing.dumps({"screening": screening.pk}, salt=REFERENCE_SALT, compress=True)


def screening_from_reference(reference: str, *, max_age: datetime.timedelta) -> Screening:
    """The screening a reference names; ScreeningError if forged, tampered, expired or not eligible."""
    try:
        data = signing.loads(reference, salt=REFERENCE_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ScreeningError(_("Your answers are too old to book with. Please answer the questions again.")) from exc
    except signing.BadSignature as exc:
        raise ScreeningError(
            _("This booking link is not valid. Please answer the questions to get a new one.")
        ) from exc
    screening = Screening.objects.filter(pk=data.get("screening") if isinstance(data, dict) else None).first()
    if screening is None or not screening.eligible_pathways:
        raise ScreeningError(_("This booking link is not valid. Please answer the questions to get a new one."))
    return screening


@transaction.atomic
def create_draft(*, source: ScreenerVersion, notes: str = "") -> ScreenerVersion:
    """A new draft version with a copy of the source version's questions, hosts and rules."""
    number = (ScreenerVersion.objects.aggregate(highest=Max("number"))["highest"] or 0) + 1
    draft = ScreenerVersion(
        number=number,
        status=ScreenerVersion.Status.DRAFT,
        based_on=source,
        notes=notes or gettext_lazy("Copy of version %(number)s") % {"number": source.number},
    )
    draft.full_clean()
    draft.save()
    for model in (Question, HostCountry, PathwayRule):
        for item in model.objects.filter(version=source):
            item.pk = None
            item.version = draft
            item.save()
    return draft


def publish_version(*, version: ScreenerVersion) -> ScreenerVersion:
    """Publish a draft: it becomes the version new screenings use, and the previous one retires."""
    with transaction.atomic(durable=True):
        locked = ScreenerVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != ScreenerVersion.Status.DRAFT:
            raise ScreeningError(_("Only a draft can be published."))
        problems = []
        for item in [*Question.objects.filter(version=locked), *PathwayRule.objects.filter(version=locked)]:
            try:
                item.full_clean()
            except ValidationError as exc:
                problems.append(f"{item}: {'; '.join(exc.messages)}")
        if not PathwayRule.objects.filter(version=locked).exists():
            problems.append(_("The version has no pathway rules."))
        if problems:
            raise ScreeningError(_("The version cannot be published: %(problems)s") % {"problems": " ".join(problems)})
        ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).update(
            status=ScreenerVersion.Status.RETIRED
        )
        locked.status = ScreenerVersion.Status.PUBLISHED
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at"])
    forget_screeners()  # new visitors to this process see it at once, to the others within seconds
    return locked
