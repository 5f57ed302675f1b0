"""Checks and normalisation of what people type, shared by every app.

Python's `str.isdigit()` and `isalnum()` accept far more than the characters a form means: "²"
is a digit, "\uff21" (a full-width A) is a letter. Codes and numbers are compared in one spelling only."""

import string
import unicodedata

ASCII_ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)
# Characters that show nothing, or change how the text around them is shown: format characters
# (right-to-left overrides, zero-width spaces and joiners, the byte order mark), controls and
# private-use code points. In a name they make one person look like another, or make the admin and
# an e-mail show a name reversed.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})


def is_ascii_digits(value: str) -> bool:
    """True only for a non-empty run of 0-9 (no superscripts, no other scripts' digits)."""
    return value.isascii() and value.isdigit()


def normalise_code(value: str) -> str:
    """The one spelling of a reference or an identity document number: compatibility forms folded
    (NFKC: full-width letters and digits, superscripts), then only the ASCII letters and digits,
    in upper case. Spaces, dashes, dots and every other mark are dropped; so are letters and digits
    of other scripts, which `foreign_alphanumerics` finds first where they must be refused."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if ch in ASCII_ALPHANUMERIC).upper()


def foreign_alphanumerics(value: str) -> str:
    """The letters and digits of `value` that have no ASCII spelling, even after NFKC ("É", the
    Cyrillic A (U+0410) that looks like a Latin A, the Arabic-Indic "٣"), each once, in order."""
    folded = unicodedata.normalize("NFKC", value)
    found = (ch for ch in folded if ch.isalnum() and ch not in ASCII_ALPHANUMERIC)
    return "".join(dict.fromkeys(found))


def hidden_characters(value: str) -> list[str]:
    """The hidden characters of `value` (see HIDDEN_CATEGORIES), each once, in order."""
    return list(dict.fromkeys(ch for ch in value if unicodedata.category(ch) in HIDDEN_CATEGORIES))


def has_letter(value: str) -> bool:
    return any(ch.isalpha() for ch in value)


def normalise_name(value: str) -> str:
    """A name in one spelling: composed accents (NFC, so "José" typed either way is one name),
    runs of spaces made one, no spaces at the ends. Hidden characters are left for the caller to
    refuse (see `hidden_characters`); `without_hidden` drops them from stored data."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def without_hidden(value: str) -> str:
    """A name as `normalise_name` writes it, with the hidden characters dropped."""
    return normalise_name("".join(ch for ch in value if unicodedata.category(ch) not in HIDDEN_CATEGORIES))


def without_controls(value: str) -> str:
    """What was typed, without control characters (a NUL cannot even be sent to PostgreSQL)."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")
