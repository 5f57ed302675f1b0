"""Stored names and document numbers in the one spelling new bookings use (issue 12).

- Names (the applicant's and the family members'): hidden characters dropped (right-to-left
  overrides, zero-width spaces and the like: Unicode categories Cc, Cf, Co, Cs), accents composed
  (NFC), runs of spaces made one.
- Document numbers: NFKC, accents taken off (a stored "É" becomes "E": nobody can be asked again,
  and new bookings refuse accented letters), only the ASCII letters and digits, upper case.
  A number with a letter that has no ASCII spelling (a Cyrillic "А") is left as it was: the
  migration cannot know what was meant.

One active appointment per document is a unique index. When two active appointments become the
same document, the one that already had the stored spelling keeps it, else the earliest booked
gets it, and the others are left as they were: a migration cancels nobody's appointment. Their ids
(never the numbers) are written to the migration's log for staff to look at.

The functions are copied here, not imported, so that later changes to core.text never change what
this migration did.
"""

import logging
import string
import unicodedata

from django.db import migrations

logger = logging.getLogger(__name__)

ASCII_ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
ACTIVE_STATUSES = {"booked", "checked_in", "called"}
BATCH = 1000


def clean_name(value):
    visible = "".join(ch for ch in value if unicodedata.category(ch) not in HIDDEN_CATEGORIES)
    return " ".join(unicodedata.normalize("NFC", visible).split())


def clean_companions(companions):
    if not isinstance(companions, list):
        return companions
    return [
        {**person, "name": clean_name(person["name"])}
        if isinstance(person, dict) and isinstance(person.get("name"), str)
        else person
        for person in companions
    ]


def fold_document(value):
    """The stored spelling, or None when a letter or digit has no ASCII spelling."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", value))
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if any(ch.isalnum() and ch not in ASCII_ALPHANUMERIC for ch in base):
        return None
    folded = "".join(ch for ch in base if ch in ASCII_ALPHANUMERIC).upper()
    return folded or None


def one_spelling(apps, schema_editor):
    Appointment = apps.get_model("appointments", "Appointment")
    changed = {}  # pk -> {field: value}
    active = {}  # (type, folded number, country) -> [(already spelled so, created_at, pk)]
    unspellable = []
    rows = Appointment.objects.order_by("pk").values_list(
        "pk", "status", "created_at", "full_name", "companions", "document_type", "document_number", "document_country"
    )
    for pk, status, created_at, name, companions, doc_type, number, country in rows.iterator(chunk_size=BATCH):
        row = {}
        if clean_name(name) != name:
            row["full_name"] = clean_name(name)
        if clean_companions(companions) != companions:
            row["companions"] = clean_companions(companions)
        folded = fold_document(number)
        if folded is None:
            if number:
                unspellable.append(pk)
        elif status in ACTIVE_STATUSES:
            active.setdefault((doc_type, folded, str(country)), []).append((folded == number, created_at, pk))
        elif folded != number:
            row["document_number"] = folded
        if row:
            changed[pk] = row

    left = []
    for (_type, folded, _country), holders in active.items():
        if any(already for already, _at, _pk in holders):
            keeper = None  # one of them already has it (the unique index allows no second)
        else:
            keeper = min(holders, key=lambda holder: (holder[1], holder[2]))[2]
            changed.setdefault(keeper, {})["document_number"] = folded
        left.extend(pk for already, _at, pk in holders if not already and pk != keeper)

    pks = sorted(changed)
    for start in range(0, len(pks), BATCH):
        batch = []
        for pk in pks[start : start + BATCH]:
            appointment = Appointment(pk=pk)
            for field, value in changed[pk].items():
                setattr(appointment, field, value)
            batch.append((appointment, tuple(sorted(changed[pk]))))
        # One bulk update per set of changed fields, so that nothing else is written.
        for names in {names for _a, names in batch}:
            Appointment.objects.bulk_update([a for a, n in batch if n == names], list(names))
    if left:
        logger.warning(
            "document numbers left as stored: another active appointment has the same document "
            "appointments=%s",
            ",".join(map(str, sorted(left))),
        )
    if unspellable:
        logger.warning(
            "document numbers left as stored: letters with no ASCII spelling appointments=%s",
            ",".join(map(str, sorted(unspellable))),
        )


class Migration(migrations.Migration):

    dependencies = [
        ("appointments", "0009_message_languages"),
    ]

    operations = [
        migrations.RunPython(one_spelling, migrations.RunPython.noop, elidable=False),
    ]
