"""The rule evaluator: the documented semantics, validation messages that say where, and
properties over random rule trees and answers."""

import datetime
from collections.abc import Iterator

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from eligibility import rules
from eligibility.rules import Context, HostRule, RuleError, evaluate, validate

TODAY = datetime.date(2026, 11, 23)
CONTEXT = Context(
    today=TODAY,
    hosts={
        "CO": HostRule(frozenset({"VE", "CU", "HT"}), datetime.date(2023, 6, 11)),
        "CR": HostRule(frozenset({"NI", "VE"}), datetime.date(2023, 6, 12), frozenset({"asylum_seeker"})),
        "GT": HostRule(frozenset({"GT"})),
    },
)
REASON = {"en": "Because.", "es": "Porque."}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Validation messages are translated; these tests read the English ones.
    with translation.override("en"):
        yield


def passed(node: dict, answers: dict) -> bool:
    return evaluate(node, answers, CONTEXT).passed


@pytest.mark.parametrize(
    ("node", "answers", "expected"),
    [
        ({"all": []}, {}, True),
        ({"any": []}, {}, False),
        ({"equals": {"question": "a", "value": "yes"}}, {"a": "yes"}, True),
        ({"equals": {"question": "a", "value": "yes"}}, {"a": "no"}, False),
        ({"equals": {"question": "a", "value": "yes"}}, {}, False),
        ({"not": {"equals": {"question": "a", "value": "yes"}}}, {}, True),
        ({"in": {"question": "a", "values": ["x", "y"]}}, {"a": "y"}, True),
        ({"in": {"question": "a", "values": ["x", "y"]}}, {"a": ["x"]}, False),
        ({"before": {"question": "d", "date": "2023-06-11"}}, {"d": "2023-06-11"}, True),
        ({"before": {"question": "d", "date": "2023-06-11"}}, {"d": "2023-06-12"}, False),
        ({"after": {"question": "d", "date": "2023-06-11"}}, {"d": "2023-06-12"}, True),
        ({"after": {"question": "d", "date": "2023-06-11"}}, {"d": "not a date"}, False),
        ({"age_at_least": {"question": "dob", "years": 18}}, {"dob": "2008-11-23"}, True),
        ({"age_at_least": {"question": "dob", "years": 18}}, {"dob": "2008-11-24"}, False),
        ({"same_answer": {"question": "a", "other": "b"}}, {"a": "VE", "b": "VE"}, True),
        ({"same_answer": {"question": "a", "other": "b"}}, {"a": "VE"}, False),
        ({"host": "office"}, {"current_country": "CO"}, True),
        ({"host": "office"}, {"current_country": "PE"}, False),
        ({"host": "nationality"}, {"current_country": "CO", "nationality": "CO"}, False),
        ({"host": "presence"}, {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-06-11"}, True),
        ({"host": "presence"}, {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-06-12"}, False),
        ({"host": "presence"}, {"current_country": "GT", "nationality": "GT"}, True),
        ({"host": "status"}, {"current_country": "CR", "legal_status": "none"}, False),
        ({"host": "status"}, {"current_country": "CR", "legal_status": "asylum_seeker"}, True),
        ({"host": "status"}, {"current_country": "CO"}, True),
    ],
)
def test_semantics(node: dict, answers: dict, expected: bool) -> None:
    assert passed(node, answers) is expected


def test_age_counts_a_29_february_birthday_on_1_march() -> None:
    assert rules.age_on(datetime.date(2008, 2, 29), datetime.date(2026, 2, 28)) == 17
    assert rules.age_on(datetime.date(2008, 2, 29), datetime.date(2026, 3, 1)) == 18


def nested(depth: int) -> dict:
    node: dict = {"all": []}
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ([], "rule: a condition must be an object, not list"),
        ({}, "rule: a condition needs exactly one operator"),
        ({"all": [], "any": []}, "rule: a condition needs exactly one operator"),
        ({"some": []}, "rule: unknown operator 'some'"),
        ({"all": {"equals": 1}}, "rule.all: expected a list of conditions"),
        ({"all": [{"all": []}, {"in": {"question": "a", "values": "x"}}]}, "rule.all[1].in.values: expected a list"),
        ({"not": {"equals": {"question": "a"}}}, "rule.not.equals: expected an object with the keys question, value"),
        ({"before": {"question": "d", "date": "11/06/2023"}}, "rule.before.date: expected a date written YYYY-MM-DD"),
        ({"age_at_least": {"question": "d", "years": "18"}}, "rule.age_at_least.years: expected a whole number"),
        ({"host": "planet"}, "rule.host: expected one of office, nationality, presence, status"),
        ({"all": [], "reason": {"en": "Only English"}}, "rule.reason: expected an object with the texts in en and es"),
        ({"all": [], "met": {"en": " ", "es": "x"}}, "rule.met.en: expected a non-empty text"),
        (nested(40), "rule" + ".not" * 31 + ": conditions may be nested 30 levels deep at most"),
    ],
)
def test_invalid_rules_say_where(node: object, message: str) -> None:
    with pytest.raises(RuleError) as error:
        validate(node)
    assert str(error.value).startswith(message)


def test_unmet_reasons_are_the_failing_parts() -> None:
    rule = {
        "all": [
            {"equals": {"question": "a", "value": "yes"}, "reason": {"en": "A", "es": "A"}},
            {"equals": {"question": "b", "value": "yes"}, "reason": {"en": "B", "es": "B"}},
            {"any": [], "reason": {"en": "C", "es": "C"}},
        ],
        "reason": {"en": "whole", "es": "todo"},
    }
    outcome = evaluate(rule, {"a": "yes", "b": "no"}, CONTEXT)
    assert outcome.passed is False
    assert outcome.unmet_reasons() == [{"en": "B", "es": "B"}, {"en": "C", "es": "C"}]
    assert outcome.met_reasons() == []


def test_met_reasons_and_trace() -> None:
    rule = {
        "all": [{"equals": {"question": "a", "value": "yes"}, "met": {"en": "A", "es": "A"}}],
        "met": {"en": "all", "es": "todo"},
    }
    outcome = evaluate(rule, {"a": "yes"}, CONTEXT)
    assert outcome.met_reasons() == [{"en": "all", "es": "todo"}, {"en": "A", "es": "A"}]
    assert [(depth, row.description, row.passed) for depth, row in outcome.trace()] == [
        (0, "all", True),
        (1, "a = 'yes'", True),
    ]


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
KEYS = st.sampled_from(["a", "b", "nationality", "current_country", "arrival_date", "legal_status", "dob"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(["yes", "no", "VE", "CO", "GT"]))
DATES = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2100, 1, 1)).map(str)
TEXT = st.fixed_dictionaries({"en": st.just("x"), "es": st.just("y")})

valid_leaves = st.one_of(
    st.builds(lambda q, v: {"equals": {"question": q, "value": v}}, KEYS, SCALARS),
    st.builds(lambda q, v: {"in": {"question": q, "values": v}}, KEYS, st.lists(SCALARS, max_size=4)),
    st.builds(lambda q, d: {"before": {"question": q, "date": d}}, KEYS, DATES),
    st.builds(lambda q, d: {"after": {"question": q, "date": d}}, KEYS, DATES),
    st.builds(lambda q, n: {"age_at_least": {"question": q, "years": n}}, KEYS, st.integers(0, 150)),
    st.builds(lambda q, o: {"same_answer": {"question": q, "other": o}}, KEYS, KEYS),
    st.builds(lambda c: {"host": c}, st.sampled_from(rules.HOST_CHECKS)),
)
valid_rules = st.recursive(
    valid_leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, max_size=4)),
        st.builds(lambda c: {"any": c}, st.lists(children, max_size=4)),
        st.builds(lambda c: {"not": c}, children),
        st.builds(lambda c, t: {**c, "reason": t}, children, TEXT),
    ),
    max_leaves=12,
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12), DATES),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
anything = st.recursive(
    st.one_of(json_values, valid_leaves),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*rules.GROUPS, *rules.LEAVES, "reason", "met", "x"]), inner, max_size=3),
    ),
    max_leaves=10,
)
answer_sets = st.dictionaries(KEYS, st.one_of(SCALARS, DATES, json_values), max_size=7)


@settings(max_examples=300, deadline=None)
@given(node=anything, answers=answer_sets)
def test_anything_raises_only_rule_error(node: object, answers: dict) -> None:
    try:
        outcome = evaluate(node, answers, CONTEXT)
    except RuleError:
        return
    assert isinstance(outcome.passed, bool)
    outcome.unmet_reasons()
    outcome.met_reasons()


@settings(max_examples=300, deadline=None)
@given(node=valid_rules, answers=answer_sets)
def test_valid_rules_always_evaluate(node: dict, answers: dict) -> None:
    validate(node)
    outcome = evaluate(node, answers, CONTEXT)
    assert outcome.unmet_reasons() == [] if outcome.passed else outcome.met_reasons() == []


@settings(max_examples=200, deadline=None)
@given(node=valid_rules, answers=answer_sets)
def test_double_negation(node: dict, answers: dict) -> None:
    assert passed({"not": {"not": node}}, answers) == passed(node, answers)


@settings(max_examples=200, deadline=None)
@given(nodes=st.lists(valid_rules, max_size=4), answers=answer_sets)
def test_all_and_any_agree_with_python(nodes: list, answers: dict) -> None:
    results = [passed(node, answers) for node in nodes]
    assert passed({"all": nodes}, answers) == all(results)
    assert passed({"any": nodes}, answers) == any(results)


def test_reasons_name_only_the_tests_whose_questions_were_answered() -> None:
    rule = {
        "all": [
            {"equals": {"question": "relative", "value": "yes"}, "reason": {"en": "No relative", "es": "x"}},
            {"equals": {"question": "petition", "value": "yes"}, "reason": {"en": "No petition", "es": "x"}},
        ]
    }
    # The petition question was never asked (no relative): its test fails but is no reason.
    outcome = evaluate(rule, {"relative": "no"}, CONTEXT)
    assert [reason["en"] for reason in outcome.unmet_reasons()] == ["No relative"]
    outcome = evaluate(rule, {"relative": "yes", "petition": "no"}, CONTEXT)
    assert [reason["en"] for reason in outcome.unmet_reasons()] == ["No petition"]


def never(key: str) -> bool:
    return False


def always(key: str) -> bool:
    return True


@pytest.mark.parametrize(
    ("node", "answers", "pending", "expected"),
    [
        ({"equals": {"question": "a", "value": "yes"}}, {}, always, None),
        ({"equals": {"question": "a", "value": "yes"}}, {}, never, False),
        ({"equals": {"question": "a", "value": "yes"}}, {"a": "yes"}, always, True),
        # One known failure decides an "all"; one known success decides an "any".
        ({"all": [{"equals": {"question": "a", "value": "yes"}}, {"host": "office"}]}, {}, always, None),
        (
            {"all": [{"equals": {"question": "a", "value": "yes"}}, {"host": "office"}]},
            {"current_country": "PE"},
            always,
            False,
        ),
        (
            {"any": [{"equals": {"question": "a", "value": "yes"}}, {"host": "office"}]},
            {"current_country": "GT"},
            always,
            True,
        ),
        ({"not": {"equals": {"question": "a", "value": "yes"}}}, {}, always, None),
        ({"not": {"equals": {"question": "a", "value": "yes"}}}, {"a": "no"}, always, True),
        # A host check waits only for what it reads: the arrival date of a non-national, where the
        # host has a cut-off, and the status where it requires one.
        ({"host": "presence"}, {"current_country": "GT", "nationality": "SV"}, always, True),
        ({"host": "presence"}, {"current_country": "CO"}, always, None),
        ({"host": "presence"}, {"current_country": "CO", "nationality": "VE"}, always, None),
        ({"host": "presence"}, {"current_country": "CO", "nationality": "CO"}, always, True),
        ({"host": "status"}, {"current_country": "CO"}, always, True),
        ({"host": "status"}, {"current_country": "CR"}, always, None),
        ({"host": "nationality"}, {"current_country": "CO", "nationality": "CO"}, always, False),
        ({"age_at_least": {"question": "born", "years": 18}}, {"born": "2015-01-01"}, always, False),
    ],
)
def test_decide_knows_when_the_answers_so_far_settle_a_condition(
    node: dict, answers: dict, pending: object, expected: bool | None
) -> None:
    assert rules.decide(node, answers, CONTEXT, pending) is expected


@given(st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["yes", "no"])))
def test_decide_with_nothing_pending_is_evaluate(answers: dict) -> None:
    node = {
        "any": [{"equals": {"question": "a", "value": "yes"}}, {"not": {"equals": {"question": "b", "value": "no"}}}]
    }
    assert rules.decide(node, answers, CONTEXT, never) == passed(node, answers)


def test_reason_texts_name_their_facts() -> None:
    rule = {"host": "presence", "reason": {"en": "By %(cutoff)s, not %(arrival)s in %(country)s", "es": "x"}}
    outcome = evaluate(rule, {"current_country": "CO", "nationality": "VE", "arrival_date": "2023-07-01"}, CONTEXT)

    def fill(text: dict, facts: dict) -> dict:
        return {language: value % facts for language, value in text.items()}

    assert outcome.unmet_reasons(fill)[0]["en"] == "By 2023-06-11, not 2023-07-01 in CO"


@pytest.mark.parametrize("text", ["%(colour)s", "100%", "%s", "%(years)d"])
def test_unknown_placeholders_in_texts_are_refused(text: str) -> None:
    with pytest.raises(RuleError, match="is not one of"):
        validate({"host": "office", "reason": {"en": text, "es": "x"}})


def test_creole_texts_are_optional_and_other_languages_refused() -> None:
    validate({"host": "office", "reason": {"en": "a", "es": "b", "ht": "c"}})
    with pytest.raises(RuleError, match="expected an object with the texts"):
        validate({"host": "office", "reason": {"en": "a", "es": "b", "fr": "c"}})
