"""Booking and manage forms. Business rules (age, party size) are the services' checks, shown here as
field errors; the services check them again when the booking is written."""

import datetime
from typing import Any, ClassVar

import phonenumbers
from django import forms
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from phonenumber_field.formfields import PhoneNumberField

from appointments.errors import BookingError
from appointments.models import Appointment, DocumentType, Office, Slot
from appointments.services import phone_codes
from appointments.services.booking import (
    REFERENCE_LENGTH,
    check_date_of_birth,
    check_name,
    check_party_size,
    normalise_document_number,
)
from core.languages import LANGUAGE_NAMES
from core.text import normalise_code
from eligibility import rules
from eligibility.forms import DateField, NormalisedChoices, country_choices

MAX_NAME = Appointment._meta.get_field("full_name").max_length  # noqa: SLF001
MAX_DOCUMENT = Appointment._meta.get_field("document_number").max_length  # noqa: SLF001
LANGUAGE_CHOICES = LANGUAGE_NAMES


def describe(form: forms.Form) -> None:
    """Point each control at its hint and error message and mark invalid ones (WCAG 3.3.1)."""
    for name, field in form.fields.items():
        ids = [f"{name}-hint"] if field.help_text else []
        if form.is_bound and name in form.errors:
            ids.append(f"{name}-error")
        widgets = getattr(field.widget, "widgets", [field.widget])
        for widget in widgets:
            if ids and not isinstance(field.widget, forms.RadioSelect):
                widget.attrs["aria-describedby"] = " ".join(ids)
            # A radio or checkbox group shows its error on the group, not in red on every option.
            if form.is_bound and name in form.errors and not isinstance(field.widget, forms.RadioSelect):
                widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()
                widget.attrs["aria-invalid"] = "true"


class DescribedForm(forms.Form):
    def full_clean(self) -> None:
        super().full_clean()
        describe(self)


class SlotForm(DescribedForm):
    """One of the day's times that still has places; any other value is refused."""

    slot = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Choose a time."),
            "invalid_choice": _("That time is not offered any more. Choose one of the times shown."),
        },
    )

    # The radios as rendered, by language, chosen value and times shown: a times page read at a
    # release renders the same day with the same places again and again.
    RADIOS_KEPT = 256
    _radios: ClassVar[dict[tuple, SafeString]] = {}

    def __init__(self, *args: Any, slots: list[Slot], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].label = _("Time")
        self.available = [slot for slot in slots if slot.places_left > 0]
        self.fields["slot"].choices = NormalisedChoices([(slot.pk, slot.pk) for slot in self.available])

    def _label_times(self) -> None:
        """Each time's label and places, made in Python (a day can have dozens of times), only
        when the radios are rendered."""
        places: dict[int, str] = {}
        for slot in self.available:
            if slot.places_left not in places:
                places[slot.places_left] = ngettext(
                    "%(count)s place left", "%(count)s places left", slot.places_left
                ) % {"count": slot.places_left}
            slot.label = f"{slot.local_start():%H:%M}–{slot.local_end():%H:%M}"
            slot.places_text = places[slot.places_left]

    def shown(self) -> tuple:
        """What the radios show besides the language: the chosen value and each time offered (in
        its office's time zone)."""
        return self.shown_for(self.available, str(self["slot"].value()))

    @staticmethod
    def shown_for(slots: list[Any], chosen: str = "None") -> tuple:
        """`shown` without making the form (a times page kept by its process needs only this):
        `chosen` as the form gives it, "None" when nothing is chosen."""
        available = [slot for slot in slots if slot.places_left > 0]
        zone = available[0].office.time_zone if available else ""
        return (chosen, zone, tuple((s.pk, s.starts_at, s.ends_at, s.places_left) for s in available))

    def radios(self) -> SafeString:
        """The times as radio buttons, made in Python: a day can have dozens of them."""
        chosen = str(self["slot"].value())
        key = (get_language(), self.shown())
        html = self._radios.get(key)
        if html is None:
            self._label_times()
            html = format_html_join(
                "\n",
                '<div class="form-check time-choice"><input class="form-check-input" type="radio" name="slot" '
                'value="{}" id="id_slot_{}"{}><label class="form-check-label" for="id_slot_{}">{} '
                '<span class="time-choice__places">{}</span></label></div>',
                (
                    (
                        slot.pk,
                        i,
                        mark_safe(" checked") if str(slot.pk) == chosen else "",
                        i,
                        slot.label,
                        slot.places_text,
                    )
                    for i, slot in enumerate(self.available)
                ),
            )
            if len(self._radios) >= self.RADIOS_KEPT:
                self._radios.clear()
            self._radios[key] = html
        return html


def party_size_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=_("How many people will attend, you included?"),
        coerce=int,
        error_messages={"required": _("Select how many people will attend.")},
    )


def _limit_party_size(field: forms.Field, office: Office) -> None:
    field.choices = [(n, n) for n in range(1, office.max_party_size + 1)]
    field.error_messages["invalid_choice"] = _("This office can receive at most %(count)s people per appointment.") % {
        "count": office.max_party_size
    }


class PartySizeForm(DescribedForm):
    party_size = party_size_field()

    def __init__(self, *args: Any, office: Office, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["party_size"]
        field.widget = forms.RadioSelect(attrs={"class": "form-check-input"}, choices=field.choices)
        _limit_party_size(field, office)
        field.help_text = _("Family members on your case who come with you. Everyone else needs their own appointment.")


def birth_date_field() -> DateField:
    """Day, month and year boxes that phones fill in with the owner's birthday (WCAG 1.3.5)."""
    field = DateField(
        label=_("Date of birth"),
        help_text=_("For example 27 3 1990."),
        error_messages={
            "required": _("Enter your date of birth."),
            "incomplete": _("Enter the day, the month and the year."),
        },
    )
    for widget, token in zip(field.widget.widgets, ("bday-day", "bday-month", "bday-year"), strict=True):
        widget.attrs["autocomplete"] = token
    return field


def _text_input(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


class DetailsForm(DescribedForm):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=MAX_NAME,
        help_text=_("As it appears on your identity document."),
        widget=_text_input(autocomplete="name", spellcheck="false"),
        error_messages={
            "required": _("Enter your full name."),
            "max_length": _("Your full name can have at most %(limit_value)d characters."),
        },
    )
    date_of_birth = birth_date_field()
    nationality = forms.ChoiceField(
        label=_("Nationality"),
        error_messages={
            "required": _("Select your nationality."),
            "invalid_choice": _("Select your nationality from the list."),
        },
    )
    document_type = forms.ChoiceField(
        label=_("Identity document"),
        choices=DocumentType.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Select the type of document."),
            "invalid_choice": _("Select the type of document from the options shown."),
        },
    )
    document_number = forms.CharField(
        label=_("Document number"),
        max_length=MAX_DOCUMENT,
        widget=_text_input(autocomplete="off", spellcheck="false", autocapitalize="characters"),
        error_messages={
            "required": _("Enter the document number."),
            "max_length": _("The document number can have at most %(limit_value)d characters."),
        },
    )
    document_country = forms.ChoiceField(
        label=_("Country that issued the document"),
        error_messages={
            "required": _("Select the country that issued your document."),
            "invalid_choice": _("Select the country that issued your document from the list."),
        },
    )
    phone = PhoneNumberField(
        label=_("Mobile phone"),
        widget=forms.TextInput(attrs={"class": "form-control", "type": "tel", "autocomplete": "tel"}),
        error_messages={
            "required": _("Enter a mobile phone number."),
            "invalid": _("Enter a valid mobile phone number, for example %(example)s."),
        },
    )
    email = forms.EmailField(
        label=_("E-mail (optional)"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"class": "form-control", "autocomplete": "email", "spellcheck": "false"}),
        error_messages={
            "invalid": _("Enter an e-mail address like name@example.com, or leave it empty."),
            "max_length": _("The e-mail address can have at most %(limit_value)d characters."),
        },
    )
    language = forms.ChoiceField(
        label=_("Language for messages"),
        choices=LANGUAGE_CHOICES,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Select a language for messages."),
            "invalid_choice": _("Select a language for messages from the options shown."),
        },
    )
    # Chosen on the page before; carried along so a change there is checked again here.
    party_size = party_size_field()
    consent = forms.BooleanField(
        label=_("I have read the privacy notice and agree that my details are used to manage my appointment."),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        error_messages={"required": _("You need to accept the privacy notice to book an appointment.")},
    )

    def __init__(
        self,
        *args: Any,
        office: Office,
        day: datetime.date,
        party_size: int = 1,
        known: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.office, self.day = office, day
        # The date of birth and nationality already answered in the questions are shown, not asked.
        self.known = self._usable(known or {})
        for name in self.known:
            del self.fields[name]
        for name in ("nationality", "document_country"):
            if name in self.fields:
                self.fields[name].choices = country_choices()
        self.fields["phone"].region = str(office.country)
        example = {"CO": "300 123 4567", "GT": "5123 4567", "CR": "8312 3456", "EC": "099 123 4567"}
        self.fields["phone"].error_messages["invalid"] = self.fields["phone"].error_messages["invalid"] % {
            "example": example.get(str(office.country), "+57 300 123 4567")
        }
        self.fields["phone"].help_text = _("We send your confirmation and reminders by SMS.")
        self.fields["language"].initial = (get_language() or "es")[:2]
        _limit_party_size(self.fields["party_size"], office)
        self.fields["party_size"].widget = forms.HiddenInput()
        posted = self.data.get("party_size") if self.is_bound else None
        self.fields["party_size"].initial = party_size
        # A short run of ASCII digits only: int() of thousands of digits raises.
        digits = isinstance(posted, str) and len(posted) <= 3 and posted.isascii() and posted.isdigit()
        self.people = max(1, min(int(posted) if digits else party_size, office.max_party_size))
        for n in range(1, self.people):
            self.fields[f"companion_name_{n}"] = forms.CharField(
                label=_("Name"),
                required=False,
                max_length=MAX_NAME,
                widget=_text_input(spellcheck="false"),
                error_messages={"max_length": _("A family member's name can have at most %(limit_value)d characters.")},
            )
            self.fields[f"companion_age_{n}"] = forms.IntegerField(
                label=_("Age"),
                required=False,
                min_value=0,
                max_value=120,
                widget=_text_input(inputmode="numeric", maxlength=3),
                error_messages={
                    "invalid": _("Enter the age in years, like 7."),
                    "min_value": _("Enter an age between 0 and 120."),
                    "max_value": _("Enter an age between 0 and 120."),
                },
            )
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select) and not isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs.setdefault("class", "form-select")

    def _usable(self, known: dict[str, str]) -> dict[str, Any]:
        """The known answers that pass this form's own checks (an age on the day, a real country)."""
        usable: dict[str, Any] = {}
        born = rules.parse_date(known.get("date_of_birth"))
        if born is not None:
            try:
                check_date_of_birth(born, today=self.day)
                usable["date_of_birth"] = born
            except BookingError:
                pass
        if countries.alpha2(known.get("nationality") or ""):
            usable["nationality"] = known["nationality"]
        return usable

    def known_rows(self) -> list[tuple[str, str]]:
        rows = []
        if "date_of_birth" in self.known:
            rows.append((_("Date of birth"), date_format(self.known["date_of_birth"], "DATE_FORMAT")))
        if "nationality" in self.known:
            rows.append((_("Nationality"), str(countries.name(self.known["nationality"]))))
        return rows

    def companion_rows(self) -> list[tuple[int, Any, Any]]:
        return [(n, self[f"companion_name_{n}"], self[f"companion_age_{n}"]) for n in range(1, self.people)]

    def clean_phone(self) -> Any:
        phone = self.cleaned_data["phone"]
        kind = phonenumbers.number_type(phone)
        if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
            raise forms.ValidationError(_("Enter a mobile number: we send your confirmation by SMS."))
        return phone

    def clean_full_name(self) -> str:
        try:
            return check_name(self.cleaned_data["full_name"])
        except BookingError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_date_of_birth(self) -> datetime.date:
        born = datetime.date.fromisoformat(self.cleaned_data["date_of_birth"])
        try:
            check_date_of_birth(born, today=self.day)
        except BookingError as exc:
            raise forms.ValidationError(exc.message) from exc
        return born

    def _country(self, name: str) -> str:
        value = self.cleaned_data[name]
        if not countries.alpha2(value):
            raise forms.ValidationError(_("Select a country from the list."))
        return value

    def clean_nationality(self) -> str:
        return self._country("nationality")

    def clean_document_country(self) -> str:
        return self._country("document_country")

    def clean_document_number(self) -> str:
        try:
            number = normalise_document_number(self.cleaned_data["document_number"])
        except BookingError as exc:
            raise forms.ValidationError(exc.message) from exc
        if len(number) < 3:
            raise forms.ValidationError(_("Enter the document number with its letters and numbers."))
        if len(number) > MAX_DOCUMENT:
            raise forms.ValidationError(_("Enter at most %(limit_value)d characters.") % {"limit_value": MAX_DOCUMENT})
        return number

    def clean_party_size(self) -> int:
        size = self.cleaned_data["party_size"]
        try:
            check_party_size(size, office=self.office)
        except BookingError as exc:
            raise forms.ValidationError(exc.message) from exc
        return size

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data.update(self.known)
        size = data.get("party_size")
        companions = []
        for n in range(1, self.office.max_party_size):
            name = (data.get(f"companion_name_{n}") or "").strip()
            age = data.get(f"companion_age_{n}")
            if size is not None and n < size:
                if not name:
                    self.add_error(f"companion_name_{n}", _("Enter the name of family member %(n)s.") % {"n": n + 1})
                elif f"companion_name_{n}" not in self.errors:
                    try:
                        name = check_name(name, companion=n + 1)
                    except BookingError as exc:
                        self.add_error(f"companion_name_{n}", exc.message)
                        name = ""
                if age is None and f"companion_age_{n}" not in self.errors:
                    self.add_error(f"companion_age_{n}", _("Enter the age of family member %(n)s.") % {"n": n + 1})
                if name and age is not None:
                    companions.append({"name": name, "age": age})
        data["companions"] = companions
        return data

    def as_typed(self) -> dict[str, Any]:
        """What was typed, as JSON, to keep with the hold until the booking is made."""
        data = self.cleaned_data
        values = {name: data[name] for name in ("full_name", "nationality", "document_type", "document_number")}
        values.update(
            document_country=data["document_country"],
            date_of_birth=data["date_of_birth"].isoformat(),
            phone=data["phone"].as_e164,
            email=data["email"],
            language=data["language"],
            party_size=data["party_size"],
            companions=data["companions"],
        )
        return values


def initial_from_typed(values: dict[str, Any]) -> dict[str, Any]:
    """The form's initial data from what `as_typed` gave (everything the applicant typed)."""
    if not values:
        return {}
    initial = {key: value for key, value in values.items() if key != "companions"}
    initial["consent"] = True  # they accepted it to get this far
    for n, companion in enumerate(values.get("companions", []), start=1):
        initial[f"companion_name_{n}"] = companion["name"]
        initial[f"companion_age_{n}"] = companion["age"]
    return initial


class ManageForm(DescribedForm):
    reference = forms.CharField(
        label=_("Appointment reference"),
        max_length=20,
        help_text=_("9 letters and numbers, for example K7M-2QX-9RD. You find it in your confirmation message."),
        widget=_text_input(autocomplete="off", spellcheck="false", autocapitalize="characters"),
        error_messages={"required": _("Enter the reference."), "max_length": _("Enter the reference as it was given.")},
    )
    date_of_birth = birth_date_field()

    def clean_reference(self) -> str:
        reference = normalise_code(self.cleaned_data["reference"])
        if len(reference) != REFERENCE_LENGTH:
            raise forms.ValidationError(_("A reference has 9 letters and numbers, for example K7M-2QX-9RD."))
        return reference

    def clean_date_of_birth(self) -> datetime.date:
        return datetime.date.fromisoformat(self.cleaned_data["date_of_birth"])


class ConfirmForm(forms.Form):
    """The confirm button; `revision` refuses a change decided on a page that is out of date."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class PhoneCodeForm(DescribedForm):
    """The code sent by SMS (appointments.services.phone_codes); what it accepts is `clean_code`'s."""

    code = forms.CharField(
        label=_("Code"),
        required=False,
        help_text=_("6 numbers, in the SMS we sent you."),
        widget=_text_input(autocomplete="one-time-code", inputmode="numeric", spellcheck="false"),
    )

    def clean_code(self) -> str:
        try:
            return phone_codes.clean_code(self.cleaned_data["code"])
        except phone_codes.PhoneCodeError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
