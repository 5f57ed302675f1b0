import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from desk.models import Counter

FIRST_DAY, LAST_DAY = datetime.date(2023, 1, 1), datetime.date(2100, 12, 31)


class FindForm(forms.Form):
    """The scan field: a USB scanner types the QR code's reference and presses Enter; staff can
    also type a reference, a name, a document or a phone number."""

    q = forms.CharField(
        label=_("Scan a QR code, or type a reference, name, document or phone number"),
        max_length=100,
        error_messages={"required": _("Scan the QR code or type what to look for.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class CounterForm(forms.Form):
    counter = forms.ModelChoiceField(
        label=_("Counter"),
        queryset=Counter.objects.none(),
        empty_label=None,
        error_messages={
            "required": _("Choose a counter."),
            "invalid_choice": _("Choose one of this office's counters."),
        },
    )

    def __init__(self, *args, office, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["counter"].queryset = Counter.objects.filter(office=office, active=True)


class DayForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_day(self) -> datetime.date:
        day = self.cleaned_data["day"]
        # Far-off dates have no appointments, and the day before 0001-01-01 does not exist.
        if not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(_("Choose a day between 2023 and 2100."))
        return day
