"""Checks and normalisation of what people type, shared by every app.

Python's `str.isdigit()` and `isalnum()` accept far more than the characters a form means: "²"
is a digit, "\uff21" (a full-width A) is a letter. Codes and numbers are compared in one spelling only."""

import unicodedata


def is_ascii_digits(value: str) -> bool:
    """True only for a non-empty run of 0-9 (no superscripts, no other scripts' digits)."""
    return value.isascii() and value.isdigit()


def normalise_code(value: str) -> str:
    """The one spelling of a reference or an identity document number: compatibility forms folded
    (full-width letters, superscripts), upper case, without spaces, dashes, dots or other marks."""
    folded = unicodedata.normalize("NFKC", value).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def without_controls(value: str) -> str:
    """What was typed, without control characters (a NUL cannot even be sent to PostgreSQL)."""
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")
