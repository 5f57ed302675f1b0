"""The report's filters: a period (the last 30 days unless chosen), offices, the kind of applicant
(pathway, nationality, host country), statuses, and for the CSV file its separator. Only offices
the user may see are offered."""

import datetime
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from appointments.models import Appointment, Office
from appointments.selectors import offices_of
from eligibility.models import Pathway
from reports.figures import Choice
from reports.stats import first_eligible, local_days, pathway_codes

MAX_DAYS = 400
# Reports cover the program's years: a date far outside them is a typing mistake (and past year
# 9999 there is no next day to count to).
FIRST_DAY = datetime.date(2020, 1, 1)
YEARS_AHEAD = 2
DELIMITERS = [(",", _("Comma (,)")), (";", _("Semicolon (;), for spreadsheets set to Spanish"))]


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter the first day as a date, for example 2026-11-01.")},
    )
    date_to = forms.DateField(
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter the last day as a date, for example 2026-11-30.")},
    )
    offices = forms.ModelMultipleChoiceField(
        label=_("Offices"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every office you may see."),
        error_messages={
            "invalid_choice": _("Choose offices from the list."),
            "invalid_pk_value": _("Choose offices from the list."),
        },
    )
    pathway = forms.ChoiceField(
        label=_("Pathway"),
        required=False,
        help_text=_("Each applicant counts under the first pathway that may fit them, in the pathways' order."),
        error_messages={"invalid_choice": _("Choose a pathway from the list.")},
    )
    nationality = forms.ChoiceField(
        label=_("Nationality"),
        required=False,
        error_messages={"invalid_choice": _("Choose a nationality from the list.")},
    )
    host_country = forms.ChoiceField(
        label=_("Country where they live"),
        required=False,
        error_messages={"invalid_choice": _("Choose a country from the list.")},
    )
    statuses = forms.MultipleChoiceField(
        label=_("Statuses"),
        choices=Appointment.Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every status."),
        error_messages={"invalid_choice": _("Choose statuses from the list.")},
    )
    delimiter = forms.ChoiceField(label=_("Separator of the CSV file"), choices=DELIMITERS, initial=",", required=False)
    personal = forms.BooleanField(label=_("With personal data (names, documents, phones, e-mails)"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["offices"].queryset = offices_of(user).order_by("name")
        if not user.has_perm("reports.export_personal_data"):
            del self.fields["personal"]
        self.fields["pathway"].choices = [("", _("Any")), *((p.code, str(p)) for p in Pathway.objects.all())]
        self.fields["nationality"].choices = [("", _("Any")), *countries]
        hosts = sorted({office.country for office in self.fields["offices"].queryset}, key=lambda c: c.name)
        self.fields["host_country"].choices = [("", _("Any")), *((country.code, country.name) for country in hosts)]
        today = timezone.localdate()
        self.fields["date_from"].initial = today - datetime.timedelta(days=29)
        self.fields["date_to"].initial = today

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        latest = timezone.localdate() + datetime.timedelta(days=365 * YEARS_AHEAD)
        for name, day in (("date_from", first), ("date_to", last)):
            if day and not FIRST_DAY <= day <= latest:
                self.add_error(
                    name,
                    _("Choose a day between %(first)s and %(last)s.") % {"first": FIRST_DAY, "last": latest},
                )
                return data
        if first and last and first > last:
            self.add_error("date_to", _("The last day cannot be before the first day."))
        elif first and last and (last - first).days > MAX_DAYS:
            self.add_error("date_to", _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})
        return data

    def appointments(self, *, with_statuses: bool = True) -> QuerySet[Appointment]:
        """The appointments the filters select, among the offices the user may see."""
        data = self.cleaned_data
        found = Appointment.objects.filter(
            local_days(self.chosen_offices(), data["date_from"], data["date_to"], "slot__starts_at")
        )
        if data.get("pathway"):
            found = found.filter(first_eligible("screening__", data["pathway"], pathway_codes()))
        if data.get("nationality"):
            found = found.filter(nationality=data["nationality"])
        if data.get("host_country"):
            found = found.filter(screening__host_country=data["host_country"])
        if with_statuses and data.get("statuses"):
            found = found.filter(status__in=data["statuses"])
        return found

    def choice(self) -> Choice:
        data = self.cleaned_data
        return Choice(
            pathway=data.get("pathway") or "",
            nationality=data.get("nationality") or "",
            host_country=data.get("host_country") or "",
        )

    def chosen_offices(self) -> list[Office]:
        return list(self.cleaned_data.get("offices") or self.fields["offices"].queryset)

    def as_log(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "date_from": data["date_from"].isoformat(),
            "date_to": data["date_to"].isoformat(),
            "offices": sorted(office.pk for office in data.get("offices") or []),
            "statuses": sorted(data.get("statuses") or []),
            **{name: data[name] for name in ("pathway", "nationality", "host_country") if data.get(name)},
        }
