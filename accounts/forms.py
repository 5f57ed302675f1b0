from django import forms
from django.utils.translation import gettext_lazy as _


class SecondFactorForm(forms.Form):
    """The code asked after the password: the authenticator's, or a recovery code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code your authenticator app shows now, or one of your recovery codes."),
        error_messages={"required": _("Enter the code from your authenticator app, or a recovery code")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class AuthenticatorCodeForm(forms.Form):
    """The first code of a new authenticator, which proves it holds the key."""

    code = forms.RegexField(
        label=_("Code from the app"),
        regex=r"^\s*\d{3}\s?\d{3}\s*$",
        help_text=_("The 6-digit code the app shows for Movilidad."),
        error_messages={
            "required": _("Enter the 6-digit code from your authenticator app"),
            "invalid": _("Enter the 6 digits the app shows, without letters"),
        },
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
