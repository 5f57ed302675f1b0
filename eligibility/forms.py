"""One form per question kind; every answer is cleaned to a JSON value (text, number or ISO date)."""

import datetime
import functools
from collections.abc import Iterator
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from core.text import is_ascii_digits
from eligibility import rules
from eligibility.models import Question

DATE_OF_BIRTH = "date_of_birth"
YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class DateParts(forms.MultiWidget):
    """Day, month and year as three short text boxes (GOV.UK's date input)."""

    template_name = "eligibility/widgets/date_parts.html"

    def __init__(self) -> None:
        attrs = {"inputmode": "numeric", "autocomplete": "off", "class": "form-control"}
        super().__init__(
            [
                forms.TextInput(attrs={**attrs, "maxlength": 2}),
                forms.TextInput(attrs={**attrs, "maxlength": 2}),
                forms.TextInput(attrs={**attrs, "maxlength": 4}),
            ]
        )

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                return [None, None, None]
        if isinstance(value, datetime.date):
            return [value.day, value.month, value.year]
        return [None, None, None]


class DateField(forms.MultiValueField):
    widget = DateParts

    def __init__(self, **kwargs: Any) -> None:
        part = {"required": False}
        super().__init__(
            fields=[forms.CharField(**part), forms.CharField(**part), forms.CharField(**part)],
            require_all_fields=False,
            **kwargs,
        )

    def compress(self, data_list: list[str]) -> str | None:
        if not data_list or not any(data_list):
            return None
        day, month, year = (part.strip() if part else "" for part in data_list)
        if not (day and month and year):
            raise forms.ValidationError(_("Enter the day, the month and the year."), code="incomplete")
        if not all(is_ascii_digits(part) for part in (day, month, year)) or len(year) != 4 or len(day + month) > 4:
            raise forms.ValidationError(_("Enter the date in numbers, for example 27 3 1990."), code="invalid")
        try:
            date = datetime.date(int(year), int(month), int(day))
        except (ValueError, OverflowError) as exc:
            raise forms.ValidationError(_("Enter a real date."), code="invalid") from exc
        if date > timezone.localdate():
            raise forms.ValidationError(_("The date must be in the past."), code="future")
        if date.year < 1900:
            raise forms.ValidationError(_("Enter a year after 1900."), code="too_old")
        return date.isoformat()


class NormalisedChoices(BaseChoiceIterator):
    """Choices Django need not normalise again: it walks a plain list through a dozen type checks
    an item each time a field or a widget is given it, a millisecond for the country list."""

    def __init__(self, choices: list[tuple[str, Any]]) -> None:
        self.choices = choices

    # Compared by their list (one per language and process, see `country_choices`), so that
    # comparing them costs nothing when they are the same; a widget's copy shares the list.
    def __hash__(self) -> int:
        return id(self.choices)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NormalisedChoices):
            return self.choices is other.choices or self.choices == other.choices
        return super().__eq__(other)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.choices)


def country_choices() -> NormalisedChoices:
    """The usual countries, then all the others, as two groups: django-countries' separator line
    between them would be an option a person could select. In the active language; made once per
    language."""
    return _country_choices(get_language(), tuple(settings.COUNTRIES_FIRST))


@functools.lru_cache(maxsize=16)
def _country_choices(language: str, first: tuple[str, ...]) -> NormalisedChoices:
    usual: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    group = usual
    # COUNTRIES_FIRST, a separator (code ""), then the rest, in the active language.
    for code, name in countries:
        if not code:
            group = others
            continue
        group.append((str(code), str(name)))
    return NormalisedChoices(
        [
            ("", str(_("Select a country"))),
            (str(_("Countries most people choose")), usual),
            (str(_("All other countries")), others),
        ]
    )


class CountrySelect(forms.Select):
    """The country list. Django renders each of its ~250 options through a template, most of a
    question page's time; yet the list is the same for everyone who reads the same language with
    the same attributes. Each process renders it once per language, name, attributes and list, with
    nothing chosen, and marks the chosen option in that HTML as Django would (tests compare)."""

    KEPT = 32
    _rendered: ClassVar[dict[tuple, str]] = {}

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        listed = self.choices
        if not isinstance(listed, NormalisedChoices):
            listed = tuple(
                option
                for choice, label in listed
                for option in ([code for code, _name in label] if isinstance(label, (list, tuple)) else [choice])
            )
        key = (get_language(), name, tuple(sorted((k, str(v)) for k, v in final.items())), listed)
        html = self._rendered.get(key)
        if html is None:
            # A value no option has (a NUL never reaches a view): nothing chosen.
            html = str(super().render(name, "\x00", attrs, renderer))
            if len(self._rendered) >= self.KEPT:
                self._rendered.clear()
            self._rendered[key] = html
        for chosen in self.format_value(value)[:1]:
            option = f'<option value="{escape(chosen)}">'
            html = html.replace(option, option[:-1] + " selected>", 1)
        return mark_safe(html)  # noqa: S308 - Django's own rendering, with one attribute added


class AnswerForm(forms.Form):
    """The answer to one question; the field is always called `answer`."""

    def __init__(self, *args: Any, question: Question, answers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.question = question
        self.answers = answers or {}
        required = {"required": _("Select an answer.")}
        kind = question.kind
        if kind == Question.Kind.YES_NO:
            field: forms.Field = forms.ChoiceField(
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={**required, "invalid_choice": _("Select yes or no.")},
            )
        elif kind == Question.Kind.CHOICE:
            field = forms.ChoiceField(
                choices=question.choice_labels(),
                widget=forms.RadioSelect,
                error_messages={**required, "invalid_choice": _("Select one of the options.")},
            )
        elif kind == Question.Kind.COUNTRY:
            field = forms.ChoiceField(
                choices=country_choices(),
                widget=CountrySelect,
                error_messages={
                    "required": _("Select a country."),
                    "invalid_choice": _("Select a country from the list."),
                },
            )
        elif kind == Question.Kind.DATE:
            field = DateField(
                error_messages={
                    "required": _("Enter a date."),
                    "incomplete": _("Enter the day, the month and the year."),
                }
            )
        else:
            field = forms.IntegerField(
                min_value=0,
                max_value=1000,
                widget=forms.TextInput(attrs={"inputmode": "numeric"}),
                error_messages={"required": _("Enter a number."), "invalid": _("Enter a whole number, like 3.")},
            )
        field.label = question.label()
        field.help_text = question.hint()
        if question.key == DATE_OF_BIRTH:
            # Let phones fill in the applicant's own birth date (WCAG 1.3.5).
            for widget, token in zip(field.widget.widgets, ("bday-day", "bday-month", "bday-year"), strict=True):
                widget.attrs["autocomplete"] = token
        if isinstance(field.widget, forms.RadioSelect):
            field.widget.attrs["class"] = "form-check-input"
        elif isinstance(field.widget, forms.Select):
            field.widget.attrs["class"] = "form-select"
        elif not isinstance(field.widget, DateParts):
            field.widget.attrs["class"] = "form-control input-short"
        self.fields["answer"] = field
        self._describe()

    def full_clean(self) -> None:
        super().full_clean()
        self._describe()

    def _describe(self) -> None:
        """Point the control at its hint and its error message, and mark it invalid."""
        field = self.fields["answer"]
        errors = self.is_bound and hasattr(self, "_errors") and self._errors and "answer" in self._errors
        ids = ["answer-hint"] if field.help_text else []
        if errors:
            ids.append("answer-error")
        widgets = field.widget.widgets if isinstance(field.widget, DateParts) else [field.widget]
        for widget in widgets:
            if ids and not isinstance(field.widget, forms.RadioSelect):
                widget.attrs["aria-describedby"] = " ".join(ids)
            if errors and not isinstance(field.widget, forms.RadioSelect):
                widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()

    def clean_answer(self) -> Any:
        answer = self.cleaned_data["answer"]
        if self.question.kind == Question.Kind.COUNTRY and not countries.alpha2(answer):
            raise forms.ValidationError(_("Select a country from the list."))
        # A person cannot have arrived anywhere before they were born.
        born, arrived = self.answers.get(DATE_OF_BIRTH), self.answers.get(rules.ARRIVAL_DATE)
        if self.question.key == rules.ARRIVAL_DATE and born and answer < born:
            raise forms.ValidationError(_("The date you arrived cannot be before your date of birth."))
        if self.question.key == DATE_OF_BIRTH and arrived and answer > arrived:
            raise forms.ValidationError(
                _("Your date of birth cannot be after the date you arrived in the country where you live.")
            )
        return answer
