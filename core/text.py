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
# Except the zero-width non-joiner and joiner (U+200C, U+200D) inside a word of a script where they
# change how the letters around them are drawn: Persian's half-space ("علی‌اکبر"), an Indic
# consonant's half form or a conjunct left apart. There they are part of how a name is spelt.
# Anywhere else (alone, at either end, next to a space or another joiner, between Latin letters
# or two scripts) they show nothing and would make a second spelling of the same name.
JOINERS = frozenset({"\u200c", "\u200d"})
JOINER_SCRIPTS = frozenset(
    {
        "ARABIC",
        "SYRIAC",
        "NKO",
        "MONGOLIAN",
        "DEVANAGARI",
        "BENGALI",
        "GURMUKHI",
        "GUJARATI",
        "ORIYA",
        "TAMIL",
        "TELUGU",
        "KANNADA",
        "MALAYALAM",
        "SINHALA",
    }
)


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


def _in_joining_script(ch: str) -> bool:
    """A letter or mark of a script in which joiners are spelling (JOINER_SCRIPTS)."""
    return unicodedata.category(ch)[0] in "LM" and unicodedata.name(ch, "").split(" ", 1)[0] in JOINER_SCRIPTS


def _is_hidden(value: str, index: int) -> bool:
    ch = value[index]
    if unicodedata.category(ch) not in HIDDEN_CATEGORIES:
        return False
    if ch in JOINERS and 0 < index < len(value) - 1:
        return not (_in_joining_script(value[index - 1]) and _in_joining_script(value[index + 1]))
    return True


def hidden_characters(value: str) -> list[str]:
    """The hidden characters of `value` (see HIDDEN_CATEGORIES and JOINERS), each once, in order."""
    return list(dict.fromkeys(ch for i, ch in enumerate(value) if _is_hidden(value, i)))


def has_letter(value: str) -> bool:
    return any(ch.isalpha() for ch in value)


def normalise_name(value: str) -> str:
    """A name in one spelling: composed accents (NFC, so "José" typed either way is one name),
    runs of spaces made one, no spaces at the ends. Hidden characters are left for the caller to
    refuse (see `hidden_characters`); `without_hidden` drops them from stored data."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def without_hidden(value: str) -> str:
    """A name as `normalise_name` writes it, with the hidden characters dropped."""
    return normalise_name("".join(ch for i, ch in enumerate(value) if not _is_hidden(value, i)))


def without_controls(value: str) -> str:
    """What was typed, without control characters (a NUL cannot even be sent to PostgreSQL)."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")
