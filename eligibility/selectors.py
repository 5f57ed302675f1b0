"""Reads of the screener: one version's questions and host table, and the path through them."""

import datetime
from dataclasses import dataclass
from typing import Any

from eligibility import rules
from eligibility.models import HostCountry, Question, ScreenerVersion


@dataclass
class Screener:
    """One version's questions in order and its host-country table, loaded in three queries."""

    version: ScreenerVersion
    questions: list[Question]
    hosts: dict[str, rules.HostRule]

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

    def question(self, key: str) -> Question | None:
        return next((question for question in self.questions if question.key == key), None)


def first_unanswered(applicable: list[Question], kept: dict[str, Any]) -> Question | None:
    """The first question of a walk still to answer, or None when the screener is complete."""
    return next((question for question in applicable if question.key not in kept), None)


def published_version() -> ScreenerVersion | None:
    return ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).first()


def load_screener(version: ScreenerVersion) -> Screener:
    questions = list(Question.objects.filter(version=version).order_by("order"))
    hosts = {str(host.country): host.as_rule() for host in HostCountry.objects.filter(version=version)}
    return Screener(version=version, questions=questions, hosts=hosts)
