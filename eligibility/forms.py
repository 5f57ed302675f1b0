"""One form per question kind; every answer is cleaned to a JSON value (text, number or ISO date)."""

import datetime
from typing import Any

from django import forms
from django.utils import timezone
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


def country_choices() -> list[tuple[str, Any]]:
    """The usual countries, then all the others, as two groups: django-countries' separator line
    between them would be an option a person could select."""
    usual: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    group = usual
    # COUNTRIES_FIRST, a separator (code ""), then the rest, in the active language.
    for code, name in countries:
        if not code:
            group = others
            continue
        group.append((str(code), str(name)))
    return [("", _("Select a country")), (_("Countries most people choose"), usual), (_("All other countries"), others)]


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
