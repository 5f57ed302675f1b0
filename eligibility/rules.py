"""The rule language of the screener: declarative conditions stored as JSON, checked and evaluated
by pure functions (no database access, no clock: "today" is passed in).

A condition is a JSON object with exactly one operator key, and optionally the plain-language texts
shown to the applicant: ``"reason"`` when the condition is not met, ``"met"`` when it is, each a
``{"en": ..., "es": ...}`` object (``"ht"`` optional). A text may name the facts of its test, filled
in the applicant's language: ``%(country)s`` (where they live), ``%(nationality)s``,
``%(nationalities)s`` (those the host serves), ``%(cutoff)s`` and ``%(arrival)s`` (dates),
``%(statuses)s`` (those the host requires), ``%(years)s`` and ``%(date)s``.

Groups
    ``{"all": [c, ...]}``  every condition holds; ``all`` of nothing holds.
    ``{"any": [c, ...]}``  at least one holds; ``any`` of nothing does not hold.
    ``{"not": c}``         the condition does not hold.
Answers (``q`` is a question key; an unanswered question makes every test on it false)
    ``{"equals": {"question": q, "value": v}}``
    ``{"in": {"question": q, "values": [v, ...]}}``
    ``{"before": {"question": q, "date": "YYYY-MM-DD"}}``  the answer (a date) is on or before it
    ``{"after": {"question": q, "date": "YYYY-MM-DD"}}``   the answer is on or after it
    ``{"age_at_least": {"question": q, "years": n}}``      the answer is a birth date n years ago or more
    ``{"same_answer": {"question": q, "other": q2}}``      both answered, with the same answer
The host country of the applicant (the answer to ``current_country``), from the version's table
    ``{"host": "office"}``       an office works in that country
    ``{"host": "nationality"}``  it serves the ``nationality`` answer
    ``{"host": "presence"}``     ``arrival_date`` is on or before its cut-off (nationals need none)
    ``{"host": "status"}``       ``legal_status`` is one it requires (when it requires any)

:func:`validate` raises :class:`RuleError`, naming where the error is, for anything else;
:func:`evaluate` validates first, and raises nothing but :class:`RuleError`, whatever the answers.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

GROUPS = ("all", "any", "not")
LEAVES = ("equals", "in", "before", "after", "age_at_least", "same_answer", "host")
HOST_CHECKS = ("office", "nationality", "presence", "status")
TEXT_KEYS = ("reason", "met")
LANGUAGES = ("en", "es", "ht")
# Every text has these; Haitian Creole may be missing in versions written before it was added.
REQUIRED_LANGUAGES = ("en", "es")
FACTS = ("country", "nationality", "nationalities", "cutoff", "arrival", "statuses", "years", "date")

# Question keys the host-country checks read.
CURRENT_COUNTRY = "current_country"
NATIONALITY = "nationality"
ARRIVAL_DATE = "arrival_date"
LEGAL_STATUS = "legal_status"


# Deeper conditions are refused; the evaluator and the admin's JSON parsing both recurse.
MAX_DEPTH = 30


class RuleError(ValueError):
    """A rule definition that does not follow the rule language; the message says where."""


@dataclass(frozen=True)
class HostRule:
    """What one host country's offices require, for one screener version."""

    nationalities: frozenset[str]
    presence_cutoff: datetime.date | None = None
    statuses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Context:
    today: datetime.date
    hosts: Mapping[str, HostRule] = field(default_factory=dict)


@dataclass
class Outcome:
    """The evaluation of one condition: whether it held, its texts, and its parts."""

    path: str
    op: str
    description: str
    passed: bool
    reason: dict[str, str] | None = None
    met: dict[str, str] | None = None
    children: list[Outcome] = field(default_factory=list)
    # Whether the applicant answered what this test reads (a question that was never asked makes
    # a test fail, but is no reason to give them).
    answered: bool = True
    facts: dict[str, Any] = field(default_factory=dict)

    def unmet_reasons(self, fill: Filler | None = None) -> list[dict[str, str]]:
        """The plain-language reasons this condition failed, most specific first, naming only the
        tests whose questions were answered, their facts filled in by `fill`."""
        if self.passed or not self.answered:
            return []
        fill = fill or _as_is
        if self.op == "all" and self.children:
            found = [reason for child in self.children for reason in child.unmet_reasons(fill)]
            return _unique(found) or ([fill(self.reason, self.facts)] if self.reason else [])
        if self.reason:
            return [fill(self.reason, self.facts)]
        return _unique([reason for child in self.children for reason in child.unmet_reasons(fill)])

    def met_reasons(self, fill: Filler | None = None) -> list[dict[str, str]]:
        """The plain-language explanations of why this condition held."""
        if not self.passed:
            return []
        fill = fill or _as_is
        own = [fill(self.met, self.facts)] if self.met else []
        if self.op == "not":
            return own
        return _unique(own + [text for child in self.children for text in child.met_reasons(fill)])

    def trace(self, depth: int = 0) -> list[tuple[int, Outcome]]:
        """Every condition with its depth, in order, for the administrators' "try it" page."""
        rows = [(depth, self)]
        for child in self.children:
            rows.extend(child.trace(depth + 1))
        return rows


Filler = Callable[[dict[str, str], dict[str, Any]], dict[str, str]]


def _as_is(text: dict[str, str], facts: dict[str, Any]) -> dict[str, str]:
    return text


def _unique(texts: list[dict[str, str]]) -> list[dict[str, str]]:
    seen, result = set(), []
    for text in texts:
        key = tuple(sorted(text.items()))
        if key not in seen:
            seen.add(key)
            result.append(text)
    return result


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------
def validate(node: Any, path: str = "rule", depth: int = 0) -> None:
    """Raise RuleError, naming the place, unless `node` is a valid condition."""
    if depth > MAX_DEPTH:
        raise RuleError(
            _("%(path)s: conditions may be nested %(depth)s levels deep at most") % {"path": path, "depth": MAX_DEPTH}
        )
    if not isinstance(node, dict):
        raise RuleError(
            _("%(path)s: a condition must be an object, not %(type)s") % {"path": path, "type": type(node).__name__}
        )
    operators = [key for key in node if key not in TEXT_KEYS]
    if len(operators) != 1:
        raise RuleError(
            _("%(path)s: a condition needs exactly one operator of %(operators)s")
            % {"path": path, "operators": ", ".join(GROUPS + LEAVES)}
        )
    op = operators[0]
    for text_key in TEXT_KEYS:
        if text_key in node:
            _validate_text(node[text_key], f"{path}.{text_key}")
    value = node[op]
    if op in ("all", "any"):
        if not isinstance(value, list):
            raise RuleError(_("%(path)s: expected a list of conditions") % {"path": f"{path}.{op}"})
        for index, child in enumerate(value):
            validate(child, f"{path}.{op}[{index}]", depth + 1)
    elif op == "not":
        validate(value, f"{path}.not", depth + 1)
    elif op == "host":
        if value not in HOST_CHECKS:
            raise RuleError(
                _("%(path)s: expected one of %(checks)s") % {"path": f"{path}.host", "checks": ", ".join(HOST_CHECKS)}
            )
    elif op in LEAVES:
        _validate_leaf(op, value, f"{path}.{op}")
    else:
        raise RuleError(_("%(path)s: unknown operator %(op)r") % {"path": path, "op": op})


PLACEHOLDER = re.compile(r"%(?:\((\w+)\)s|%)|%")


def _validate_text(text: Any, path: str) -> None:
    if not isinstance(text, dict) or not set(REQUIRED_LANGUAGES) <= set(text) <= set(LANGUAGES):
        raise RuleError(_("%(path)s: expected an object with the texts in en and es (and ht)") % {"path": path})
    for language, value in text.items():
        if not isinstance(value, str) or not value.strip():
            raise RuleError(_("%(path)s: expected a non-empty text") % {"path": f"{path}.{language}"})
        for match in PLACEHOLDER.finditer(value):
            if match.group(0) != "%%" and match.group(1) not in FACTS:
                raise RuleError(
                    _("%(path)s: %(placeholder)s is not one of %(facts)s")
                    % {
                        "path": f"{path}.{language}",
                        "placeholder": match.group(0),
                        "facts": ", ".join(f"%({name})s" for name in FACTS),
                    }
                )


LEAF_ARGUMENTS = {
    "equals": {"question", "value"},
    "in": {"question", "values"},
    "before": {"question", "date"},
    "after": {"question", "date"},
    "age_at_least": {"question", "years"},
    "same_answer": {"question", "other"},
}


def _validate_leaf(op: str, value: Any, path: str) -> None:
    expected = LEAF_ARGUMENTS[op]
    if not isinstance(value, dict) or set(value) != expected:
        raise RuleError(
            _("%(path)s: expected an object with the keys %(keys)s")
            % {"path": path, "keys": ", ".join(sorted(expected))}
        )
    for key in ("question", "other"):
        if key in value and (not isinstance(value[key], str) or not value[key]):
            raise RuleError(_("%(path)s: expected a question key") % {"path": f"{path}.{key}"})
    if op == "equals" and not _is_scalar(value["value"]):
        raise RuleError(_("%(path)s: expected a text, number, true or false") % {"path": f"{path}.value"})
    if op == "in" and (not isinstance(value["values"], list) or not all(_is_scalar(v) for v in value["values"])):
        raise RuleError(_("%(path)s: expected a list of texts, numbers, true or false") % {"path": f"{path}.values"})
    if op in ("before", "after") and parse_date(value["date"]) is None:
        raise RuleError(_("%(path)s: expected a date written YYYY-MM-DD") % {"path": f"{path}.date"})
    if op == "age_at_least" and (
        isinstance(value["years"], bool) or not isinstance(value["years"], int) or not 0 <= value["years"] <= 150
    ):
        raise RuleError(_("%(path)s: expected a whole number of years from 0 to 150") % {"path": f"{path}.years"})


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def parse_date(value: Any) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class QuestionSpec:
    """What a condition may ask of one question: its kind, and the answers it can have (None for
    countries, dates and numbers)."""

    kind: str
    values: frozenset[Any] | None = None


HOST_NEEDS = {
    "office": (CURRENT_COUNTRY,),
    "nationality": (CURRENT_COUNTRY, NATIONALITY),
    "presence": (CURRENT_COUNTRY, NATIONALITY, ARRIVAL_DATE),
    "status": (CURRENT_COUNTRY, LEGAL_STATUS),
}


def check_references(node: Any, questions: Mapping[str, QuestionSpec], path: str = "rule") -> None:
    """Raise RuleError, naming the place, unless every question a valid condition reads is in
    `questions` and every value it compares is one that question can have."""
    op = next(key for key in node if key not in TEXT_KEYS)
    value = node[op]
    if op in ("all", "any"):
        for index, child in enumerate(value):
            check_references(child, questions, f"{path}.{op}[{index}]")
        return
    if op == "not":
        check_references(value, questions, f"{path}.not")
        return
    if op == "host":
        for key in HOST_NEEDS[value]:
            if key not in questions:
                raise RuleError(
                    _("%(path)s: needs a question %(key)r asked before it") % {"path": f"{path}.host", "key": key}
                )
        return
    for key in ("question", "other"):
        if key in value and value[key] not in questions:
            raise RuleError(
                _("%(path)s: no question %(key)r asked before it") % {"path": f"{path}.{op}.{key}", "key": value[key]}
            )
    spec = questions[value["question"]]
    if op in ("before", "after", "age_at_least") and spec.kind != "date":
        raise RuleError(
            _("%(path)s: %(key)r is not a date question") % {"path": f"{path}.{op}.question", "key": value["question"]}
        )
    compared = [value["value"]] if op == "equals" else value["values"] if op == "in" else []
    for index, candidate in enumerate(compared):
        if spec.values is not None and candidate not in spec.values:
            where = f"{path}.{op}.value" if op == "equals" else f"{path}.{op}.values[{index}]"
            allowed = ", ".join(repr(v) for v in sorted(spec.values, key=str))
            raise RuleError(
                _("%(path)s: %(key)r is never %(value)r (its answers: %(allowed)s)")
                % {"path": where, "key": value["question"], "value": candidate, "allowed": allowed}
            )


def missing_reason(node: Any, path: str = "rule") -> str | None:
    """The place of a part of a valid condition that can fail with no reason to show, or None."""
    if "reason" in node:
        return None
    op = next(key for key in node if key not in TEXT_KEYS)
    if op == "all" or (op == "any" and node[op]):
        for index, child in enumerate(node[op]):
            place = missing_reason(child, f"{path}.{op}[{index}]")
            if place:
                return place
        return None
    return path


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
def evaluate(node: Any, answers: Mapping[str, Any], context: Context) -> Outcome:
    """Evaluate a condition against answers; raises RuleError only for an invalid condition."""
    validate(node)
    return _evaluate(node, answers, context, "rule")


def holds(node: Any | None, answers: Mapping[str, Any], context: Context) -> bool:
    """Whether a condition holds; no condition at all always holds."""
    return node is None or evaluate(node, answers, context).passed


def _evaluate(node: dict[str, Any], answers: Mapping[str, Any], context: Context, path: str) -> Outcome:
    op = next(key for key in node if key not in TEXT_KEYS)
    value = node[op]
    texts = {"reason": node.get("reason"), "met": node.get("met")}
    if op in ("all", "any"):
        children = [_evaluate(child, answers, context, f"{path}.{op}[{i}]") for i, child in enumerate(value)]
        passed = all(c.passed for c in children) if op == "all" else any(c.passed for c in children)
        answered = any(c.answered for c in children) or not children
        return Outcome(path, op, op, passed, children=children, answered=answered, **texts)
    if op == "not":
        child = _evaluate(value, answers, context, f"{path}.not")
        return Outcome(path, "not", "not", not child.passed, children=[child], answered=child.answered, **texts)
    passed, description = _leaf(op, value, answers, context)
    reads = _reads(op, value, answers, context)
    return Outcome(
        path,
        op,
        description,
        passed,
        answered=all(answers.get(key) is not None for key in reads),
        facts=_facts(op, value, answers, context),
        **texts,
    )


def decide(
    node: Any | None, answers: Mapping[str, Any], context: Context, pending: Callable[[str], bool]
) -> bool | None:
    """Whether a condition holds, does not, or cannot be known yet (None): a test that reads a
    question still `pending` (not answered, and possibly asked later) is unknown. With nothing
    pending this is :func:`holds`."""
    if node is None:
        return True
    validate(node)
    return _decide(node, answers, context, pending)


def _decide(
    node: dict[str, Any], answers: Mapping[str, Any], context: Context, pending: Callable[[str], bool]
) -> bool | None:
    op = next(key for key in node if key not in TEXT_KEYS)
    value = node[op]
    if op in ("all", "any"):
        results = [_decide(child, answers, context, pending) for child in value]
        decisive = op == "any"
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if op == "not":
        result = _decide(value, answers, context, pending)
        return None if result is None else not result
    if any(key not in answers and pending(key) for key in _reads(op, value, answers, context)):
        return None
    return _leaf(op, value, answers, context)[0]


def _reads(op: str, value: Any, answers: Mapping[str, Any], context: Context) -> tuple[str, ...]:
    """The questions a test reads, given what is known so far (a host check reads the arrival date
    only of a non-national, where the host has a cut-off)."""
    if op != "host":
        return tuple(value[key] for key in ("question", "other") if key in value)
    country = answers.get(CURRENT_COUNTRY)
    host = context.hosts.get(country) if isinstance(country, str) else None
    if host is None or value == "office":
        return (CURRENT_COUNTRY,)
    if value == "nationality":
        return (CURRENT_COUNTRY, NATIONALITY)
    if value == "presence":
        if host.presence_cutoff is None:
            return (CURRENT_COUNTRY,)
        if answers.get(NATIONALITY) in (None, country):
            return (CURRENT_COUNTRY, NATIONALITY)
        return (CURRENT_COUNTRY, NATIONALITY, ARRIVAL_DATE)
    return (CURRENT_COUNTRY, LEGAL_STATUS) if host.statuses else (CURRENT_COUNTRY,)


def _facts(op: str, value: Any, answers: Mapping[str, Any], context: Context) -> dict[str, Any]:
    """What a reason may name about a test: the rule's own values and the answers it read."""
    if op == "age_at_least":
        return {"years": value["years"]}
    if op in ("before", "after"):
        return {"date": parse_date(value["date"])}
    if op != "host":
        return {}
    country = answers.get(CURRENT_COUNTRY)
    host = context.hosts.get(country) if isinstance(country, str) else None
    facts: dict[str, Any] = {"country": country, "nationality": answers.get(NATIONALITY)}
    if answers.get(ARRIVAL_DATE):
        facts["arrival"] = parse_date(answers.get(ARRIVAL_DATE))
    if host is not None:
        facts.update(
            nationalities=sorted(host.nationalities), cutoff=host.presence_cutoff, statuses=sorted(host.statuses)
        )
    return facts


def _leaf(op: str, value: Any, answers: Mapping[str, Any], context: Context) -> tuple[bool, str]:
    if op == "host":
        return _host(value, answers, context), f"host country: {value}"
    question = value["question"]
    answer = answers.get(question)
    answered = question in answers and answer is not None
    if op == "equals":
        return answered and answer == value["value"], f"{question} = {value['value']!r}"
    if op == "in":
        return answered and _is_scalar(answer) and answer in value["values"], f"{question} in {value['values']!r}"
    if op in ("before", "after"):
        limit = parse_date(value["date"])
        given = parse_date(answer)
        if given is None or limit is None:
            return False, f"{question} {op} {value['date']}"
        return (given <= limit if op == "before" else given >= limit), f"{question} {op} {value['date']}"
    if op == "age_at_least":
        born = parse_date(answer)
        description = f"age from {question} at least {value['years']}"
        return born is not None and age_on(born, context.today) >= value["years"], description
    other = value["other"]
    same = answered and other in answers and _is_scalar(answer) and answers[other] == answer
    return same, f"{question} = {other}"


def _host(check: str, answers: Mapping[str, Any], context: Context) -> bool:
    country = answers.get(CURRENT_COUNTRY)
    host = context.hosts.get(country) if isinstance(country, str) else None
    if host is None:
        return False
    if check == "office":
        return True
    nationality = answers.get(NATIONALITY)
    if check == "nationality":
        return isinstance(nationality, str) and nationality in host.nationalities
    if check == "presence":
        if host.presence_cutoff is None or nationality == country:
            return True
        arrived = parse_date(answers.get(ARRIVAL_DATE))
        return arrived is not None and arrived <= host.presence_cutoff
    status = answers.get(LEGAL_STATUS)
    return not host.statuses or (isinstance(status, str) and status in host.statuses)


def age_on(born: datetime.date, day: datetime.date) -> int:
    """Whole years between a birth date and a day (a birthday on 29 February counts on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
