"""The names of the countries the offices see most, marked here so that the catalogues of languages
django-countries does not ship (Haitian Creole) translate them; django-countries' own lookups find
them there. Never called."""

from django.utils.translation import gettext_noop as _

COUNTRY_NAMES = [
    _("Guatemala"),
    _("Colombia"),
    _("Costa Rica"),
    _("Ecuador"),
    _("Venezuela"),
    _("Venezuela (Bolivarian Republic of)"),
    _("Nicaragua"),
    _("Haiti"),
    _("Cuba"),
    _("Honduras"),
    _("El Salvador"),
    _("United States of America"),
    _("Peru"),
    _("Mexico"),
    _("Panama"),
]
