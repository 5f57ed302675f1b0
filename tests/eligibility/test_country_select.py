"""The country list of the screener, rendered once per process and language (eligibility.forms.CountrySelect),
is exactly what Django renders for every value, in every language, with and without errors."""

import pytest
from django import forms
from django.test import Client
from django.utils import translation

from eligibility.forms import AnswerForm, CountrySelect
from eligibility.models import Question, ScreenerVersion


@pytest.mark.parametrize("language", ["es", "en", "ht"])
@pytest.mark.parametrize("data", [None, {"answer": ""}, {"answer": "CR"}, {"answer": "ZZ"}, {"answer": 'A"<'}])
def test_same_html_as_django_for_any_value(published: ScreenerVersion, language: str, data: dict | None) -> None:
    question = Question.objects.get(version=published, key="current_country")
    with translation.override(language):
        for initial in (None, "GT", "VE"):
            form = AnswerForm(data, question=question, initial={"answer": initial})
            form.is_valid()
            field = form["answer"]
            assert isinstance(field.field.widget, CountrySelect)
            ours = str(field)
            field.field.widget.__class__ = forms.Select  # Django's own rendering of the same widget
            assert ours == str(field), (language, data, initial)
            assert ours.count(" selected>") <= 1


def test_a_country_chosen_before_is_selected_again(client: Client, published: ScreenerVersion) -> None:
    client.post("/en/questions/current_country/", {"answer": "CR"})
    html = client.get("/en/questions/current_country/").content.decode()
    assert '<option value="CR" selected>Costa Rica</option>' in html
    assert html.count(" selected>") == 1
    html = client.get("/es/questions/current_country/").content.decode()
    assert '<option value="CR" selected>Costa Rica</option>' in html
    assert '<option value="DE">Alemania</option>' in html, "in the page's language"
