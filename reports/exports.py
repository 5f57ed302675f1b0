"""The appointment list export: the columns, defined once with their translated headers, and a CSV
writer that streams rows (bounded memory) and can never write a cell a spreadsheet runs as a
formula."""

import csv
import datetime
import functools
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import xlsxwriter
from django.db import connection
from django.db.models import F, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from eligibility.models import eligible_codes

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # so that Excel reads the file as UTF-8 and shows accents right
CHUNK = 10_000


def safe_cell(value: Any) -> Any:
    """A text that could run as a formula, made inert with a leading apostrophe."""
    if value.__class__ is str and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def _local(moment: datetime.datetime | None, zone: str, fmt: str) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).strftime(fmt) if moment else ""


def _reference(value: str) -> str:
    return "-".join(value[i : i + 3] for i in range(0, len(value), 3))


@functools.cache
def _status_label(value: str, language: str | None) -> str:
    return str(Appointment.Status(value).label)


def _status(value: str) -> str:
    return _status_label(value, get_language())


def _eligible(outcomes: Any) -> str:
    return " ".join(eligible_codes(outcomes))


@dataclass(frozen=True)
class Column:
    header: Any
    fields: tuple[str, ...]
    value: Callable[..., Any]
    personal: bool = False
    # For a moment shown in the office's time (its first field), PostgreSQL's to_char format, so
    # the database writes it (a million rows spend much of their time in Python's strftime).
    local: str | None = None


class LocalText(Func):
    """to_char(<moment> AT TIME ZONE <the office's zone>, <format>), on PostgreSQL."""

    arg_joiner = " AT TIME ZONE "
    template = "to_char((%(expressions)s), '%(format)s')"
    output_field = TextField()


def local_column(header: Any, field: str, python: str, sql: str) -> Column:
    return Column(
        header,
        (field, "office__time_zone"),
        lambda at, zone: _local(at, zone, python),
        local=sql,
    )


COLUMNS = [
    Column(_("reference"), ("reference",), _reference),
    Column(_("office"), ("office__name",), str),
    local_column(_("day"), "slot__starts_at", "%Y-%m-%d", "YYYY-MM-DD"),
    local_column(_("time"), "slot__starts_at", "%H:%M", "HH24:MI"),
    Column(_("status"), ("status",), _status),
    Column(_("pathways"), ("screening__outcomes",), _eligible),
    Column(_("nationality"), ("nationality_text",), str),
    Column(_("host country"), ("host_country_text",), str),
    Column(_("people attending"), ("party_size",), int),
    Column(_("language"), ("language",), str),
    local_column(_("booked"), "created_at", "%Y-%m-%d %H:%M", "YYYY-MM-DD HH24:MI"),
    local_column(_("cancelled"), "cancelled_at", "%Y-%m-%d %H:%M", "YYYY-MM-DD HH24:MI"),
    local_column(_("checked in"), "ticket__checked_in_at", "%H:%M", "HH24:MI"),
    # Personal data, only with the "export personal data" permission.
    Column(_("full name"), ("full_name",), str, personal=True),
    Column(_("date of birth"), ("date_of_birth",), lambda born: born.isoformat() if born else "", personal=True),
    Column(_("document type"), ("document_type",), str, personal=True),
    Column(_("document number"), ("document_number",), str, personal=True),
    Column(_("mobile phone"), ("phone_text",), str, personal=True),
    Column(_("e-mail"), ("email",), str, personal=True),
]


# Read as the text stored (E.164, country codes): building a PhoneNumber or Country object for each
# of a million rows is most of an export's time.
TEXT = {
    "phone_text": Cast("phone", TextField()),
    "nationality_text": Cast("nationality", TextField()),
    "host_country_text": Cast("screening__host_country", TextField()),
}


def columns(*, personal: bool) -> list[Column]:
    return [column for column in COLUMNS if personal or not column.personal]


def rows(
    queryset: QuerySet[Appointment], *, personal: bool, inert: bool = True, in_sql: bool | None = None
) -> Iterator[list[Any]]:
    """The header, then one row per appointment, read in chunks (one query per chunk). `inert`
    prefixes cells that could run as formulas (CSV); XLSX writes every text as a text cell.
    `in_sql`: local times written by the database (PostgreSQL, the default there) or by Python."""
    make_safe = safe_cell if inert else _as_is
    in_sql = connection.vendor == "postgresql" if in_sql is None else in_sql
    chosen = columns(personal=personal)
    annotations: dict[str, Any] = {}
    readers: list[tuple[Callable[..., Any], tuple[str, ...]]] = []
    for index, column in enumerate(chosen):
        if in_sql and column.local:
            name = f"local_{index}"
            annotations[name] = LocalText(F(column.fields[0]), F("office__time_zone"), format=column.local)
            readers.append((_text, (name,)))
        else:
            readers.append((column.value, column.fields))
    annotations.update({name: TEXT[name] for _value, fields in readers for name in fields if name in TEXT})
    fields = list(dict.fromkeys(field for _value, names in readers for field in names))
    yield [str(column.header) for column in chosen]
    ordered = queryset.annotate(**annotations).order_by("slot__starts_at", "pk")
    # A plan made once: each column's function and where its values are in a row.
    plan = []
    for value, names in readers:
        at = [fields.index(name) for name in names]
        plan.append((value, at[0] if len(at) == 1 else tuple(at)))
    for values in ordered.values_list(*fields).iterator(chunk_size=CHUNK):
        row = []
        for value, at in plan:
            cell = value(values[at]) if at.__class__ is int else value(*[values[i] for i in at])
            row.append(make_safe(cell))
        yield row


def _text(value: str | None) -> str:
    return value or ""


def _as_is(value: Any) -> Any:
    return value


def write_xlsx(table: Iterable[list[Any]], target: IO[bytes]) -> int:
    """The table as an XLSX workbook written into `target` in XlsxWriter's constant-memory mode
    (each row is flushed to disk as it is written); every text is a text cell, never a formula, a
    link or a number. Returns the number of rows after the header."""
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = workbook.add_worksheet(str(_("Appointments"))[:31])
    bold = workbook.add_format({"bold": True})
    written = -1
    for written, row in enumerate(table):
        for column, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(written, column, value, bold if written == 0 else None)
            else:
                sheet.write_number(written, column, value)
    workbook.close()
    return max(written, 0)


class _Line:
    """csv.writer writes into this and gets the line back, so nothing accumulates."""

    def write(self, value: str) -> str:
        return value


def csv_lines(table: Iterable[list[Any]], *, delimiter: str = ",") -> Iterator[str]:
    writer = csv.writer(_Line(), delimiter=delimiter, lineterminator="\r\n")
    yield BOM
    for row in table:
        yield writer.writerow(row)
