"""Haitian Creole: the screener's data (questions, choices, reasons, pathways) has it, with the same
placeholders as the English, and a screening made in Creole says its reasons in Creole."""

import re

import pytest
from django.test import Client

from eligibility.models import Pathway, PathwayRule, Question, ScreenerVersion
from eligibility.selectors import load_screener
from eligibility.services import record_screening

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def texts(node):
    """Every {"en": ..., "es": ...} text in a JSON value."""
    if isinstance(node, list):
        for item in node:
            yield from texts(item)
    elif isinstance(node, dict):
        if "en" in node and "es" in node:
            yield node
        for value in node.values():
            yield from texts(value)


def test_every_seeded_text_has_its_creole(published: ScreenerVersion) -> None:
    questions = Question.objects.filter(version=published)
    assert all(q.label_ht for q in questions)
    assert all(q.hint_ht for q in questions if q.hint_en)
    found = [text for q in questions for text in texts(q.choices)]
    found += [text for rule in PathwayRule.objects.filter(version=published) for text in texts(rule.condition)]
    assert len(found) > 20
    for text in found:
        assert text.get("ht"), text["en"]
        assert sorted(PLACEHOLDER.findall(text["ht"])) == sorted(PLACEHOLDER.findall(text["en"])), text
    for pathway in Pathway.objects.all():
        assert all(getattr(pathway, f"{field}_ht") for field in ("name", "description", "bring")), pathway.code


def test_a_screening_in_creole_gives_its_reasons_in_creole(published: ScreenerVersion) -> None:
    screener = load_screener(published)
    screening = record_screening(
        screener=screener, answers={"current_country": "CO", "nationality": "CO"}, language="ht"
    )
    (reason,) = screening.outcomes["refugee"]["reasons"]
    assert reason["ht"] == "Nan Kolonbi, biwo a sèvi sèlman moun ki soti Ayiti, Kiba oswa Venezwela."
    assert screening.outcomes["refugee"]["name"]["ht"]


@pytest.mark.django_db
def test_the_screener_speaks_creole(client: Client, published: ScreenerVersion) -> None:
    client.get("/ht/questions/")
    html = client.get("/ht/questions/current_country/").content.decode()
    assert '<html lang="ht">' in html
    assert Question.objects.get(version=published, key="current_country").label_ht in html
    assert 'hreflang="es" lang="es">Español</a>' in html
    assert 'hreflang="en" lang="en">English</a>' in html
    assert "Kreyòl ayisyen</a>" not in html, "no link to the page's own language"
