"""Reads of the screener: one version's questions and host table, and the path through them."""

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.pages import forget_pages
from eligibility import rules
from eligibility.models import HostCountry, PathwayRule, Question, ScreenerVersion


@dataclass
class Screener:
    """One version's questions in order, its host-country table and the conditions of its active
    pathways, loaded in four queries."""

    version: ScreenerVersion
    questions: list[Question]
    hosts: dict[str, rules.HostRule]
    pathways: list[Any] = field(default_factory=list)

    def context(self, today: datetime.date) -> rules.Context:
        return rules.Context(today=today, hosts=self.hosts)

    def walk(self, answers: dict[str, Any], today: datetime.date) -> tuple[list[Question], dict[str, Any]]:
        """The questions that apply to these answers, in order, and the answers that still count
        (an answer to a question that no longer applies, after a change, is dropped)."""
        context = self.context(today)
        applicable: list[Question] = []
        kept: dict[str, Any] = {}
        for question in self.questions:
            if rules.holds(question.condition, kept, context):
                applicable.append(question)
                if question.key in answers:
                    kept[question.key] = answers[question.key]
        return applicable, kept

    def next_question(self, answers: dict[str, Any], today: datetime.date) -> Question | None:
        return first_unanswered(*self.walk(answers, today))

    def pending(self, answers: dict[str, Any], today: datetime.date) -> Callable[[str], bool]:
        """Whether a question is still to come: not answered, and asked unless later answers say
        otherwise (its condition holds or is not known yet)."""
        context = self.context(today)
        by_key = {question.key: question for question in self.questions}
        known: dict[str, bool] = {}

        def pending(key: str) -> bool:
            if key in answers or key not in by_key:
                return False
            if key not in known:
                known[key] = rules.decide(by_key[key].condition, answers, context, pending) is not False
            return known[key]

        return pending

    def ruled_out(self, answers: dict[str, Any], today: datetime.date) -> bool:
        """Whether no active pathway can fit, whatever the questions still to come are answered:
        the screener stops there and gives the reasons."""
        context = self.context(today)
        pending = self.pending(answers, today)
        return bool(self.pathways) and all(
            rules.decide(condition, answers, context, pending) is False for condition in self.pathways
        )

    def still_possible(self, answers: dict[str, Any], today: datetime.date) -> list[Question]:
        """The questions answered or still possibly asked, in order: the "of about" count."""
        pending = self.pending(answers, today)
        return [question for question in self.questions if question.key in answers or pending(question.key)]

    def question(self, key: str) -> Question | None:
        return next((question for question in self.questions if question.key == key), None)


def first_unanswered(applicable: list[Question], kept: dict[str, Any]) -> Question | None:
    """The first question of a walk still to answer, or None when the screener is complete."""
    return next((question for question in applicable if question.key not in kept), None)


def published_version() -> ScreenerVersion | None:
    return ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).first()


# A published or retired version never changes (VersionedContent refuses to write to it), so each
# process keeps its screener once loaded, under the version and the moment it was published: the
# question pages then read nothing from the database. A draft is still being edited: never kept.
# Migrations that fill a new language into frozen versions run before the new processes start.
FROZEN_SCREENERS_KEPT = 8
_frozen: dict[tuple[int, str], Screener] = {}


def frozen_stamp(version: ScreenerVersion) -> str:
    """What names a frozen version's content for good ("" for a draft)."""
    if version.status == ScreenerVersion.Status.DRAFT or version.published_at is None:
        return ""
    return version.published_at.isoformat()


def screener_of(version: ScreenerVersion) -> Screener:
    """`load_screener`, from this process's copy when the version is frozen."""
    stamp = frozen_stamp(version)
    if not stamp:
        return load_screener(version)
    screener = _frozen.get((version.pk, stamp))
    if screener is None:
        screener = load_screener(version)
        if len(_frozen) >= FROZEN_SCREENERS_KEPT:
            _frozen.clear()
        _frozen[(version.pk, stamp)] = screener
    return screener


def pinned_screener(pk: Any, stamp: Any) -> Screener | None:
    """The screener a session was pinned to (its version's id and `frozen_stamp`): without a query
    when this process has it, else from the database; None when the version no longer exists."""
    if isinstance(pk, int) and isinstance(stamp, str) and stamp:
        screener = _frozen.get((pk, stamp))
        if screener is not None:
            return screener
    version = ScreenerVersion.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    return screener_of(version) if version else None


# Which version is published, as this process last read it (a query on every first page would be
# most of its time at a release). A version published reaches new visitors within this many seconds
# everywhere, at once in the process that published it; whoever starts in between answers the
# version published just before, as anyone who started a moment earlier does.
PUBLISHED_CHECK_SECONDS = 5
_published: list[tuple[float, Screener | None]] = []


def published_screener() -> Screener | None:
    """The published version's screener (None when no version is published)."""
    now = time.monotonic()
    if _published and now - _published[0][0] < PUBLISHED_CHECK_SECONDS:
        return _published[0][1]
    version = published_version()
    screener = screener_of(version) if version else None
    _published[:] = [(now, screener)]
    return screener


def forget_screeners() -> None:
    """Drop this process's copies: after publishing, and in tests (whose rolled-back data can come
    back under the same ids)."""
    _frozen.clear()
    _published.clear()
    forget_pages()  # the question pages kept from them


def load_screener(version: ScreenerVersion) -> Screener:
    questions = list(Question.objects.filter(version=version).order_by("order"))
    hosts = {str(host.country): host.as_rule() for host in HostCountry.objects.filter(version=version)}
    pathways = list(PathwayRule.objects.filter(version=version, active=True).values_list("condition", flat=True))
    return Screener(version=version, questions=questions, hosts=hosts, pathways=pathways)
