"""The day/month/year field refuses every malformed date with a message, never a crash."""

import pytest
from django import forms
from django.utils import translation

from eligibility.forms import DateField


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (["9" * 25, "1", "1990"], "Enter the date in numbers, for example 27 3 1990."),
        (["1", "9" * 25, "1990"], "Enter the date in numbers, for example 27 3 1990."),
        (["31", "2", "1990"], "Enter a real date."),
        (["1", "13", "1990"], "Enter a real date."),
        (["1", "1", "0000"], "Enter a real date."),
        (["1", "1", ""], "Enter the day, the month and the year."),
    ],
)
def test_malformed_dates(parts: list[str], message: str) -> None:
    with translation.override("en"):
        with pytest.raises(forms.ValidationError) as info:
            DateField().clean(parts)
        assert info.value.messages == [message]
