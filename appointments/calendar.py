"""Documents made from an appointment: the calendar file and the QR code of its reference."""

from email.utils import parseaddr
from urllib.parse import urlsplit

import segno
from django.conf import settings
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from appointments.models import Appointment

# iTIP methods (RFC 5546): a booked appointment is published; a cancelled one cancels the event the
# applicant may have added, which calendars find by its UID and accept for its higher SEQUENCE.
PUBLISH, CANCEL = "PUBLISH", "CANCEL"


def calendar_method(appointment: Appointment) -> str:
    return CANCEL if appointment.status == Appointment.Status.CANCELLED else PUBLISH


def content_type(appointment: Appointment) -> str:
    """The calendar's media type; `method` repeats the file's METHOD (RFC 6047 2.4)."""
    return f"text/calendar; charset=utf-8; method={calendar_method(appointment)}"


def event_uid(appointment: Appointment) -> str:
    """The same for every version of the appointment's event, under the site's own domain so it is
    unique among everything in the applicant's calendar (RFC 5545 3.8.4.7)."""
    return f"{appointment.reference}@{urlsplit(settings.SITE_URL).hostname or 'localhost'}"


def _organizer() -> vCalAddress:
    # The sender of the messages: RFC 5546 requires an organizer in PUBLISH and in CANCEL, and the
    # same one in both.
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{address}")
    if name:
        organizer.params["cn"] = vText(name)
    return organizer


def ics(appointment: Appointment, *, language: str | None = None) -> bytes:
    """An iCalendar file with the appointment as it stands, in the applicant's language unless told
    otherwise: the event while it is booked, the event's cancellation once it is cancelled. The
    SEQUENCE is the appointment's revision, which every change raises, so a calendar takes a
    later file over an earlier one."""
    office = appointment.slot.office
    method = calendar_method(appointment)
    with translation.override(language or appointment.language):
        calendar = Calendar()
        calendar.add("prodid", "-//Movilidad Segura//Citas//ES")
        calendar.add("version", "2.0")
        calendar.add("method", method)
        event = Event()
        event.add("uid", event_uid(appointment))
        event.add("sequence", appointment.revision)
        event.add("dtstamp", appointment.updated_at)
        event.add("dtstart", appointment.slot.starts_at)
        event.add("dtend", appointment.slot.ends_at)
        event.add("organizer", _organizer())
        summary = _("Appointment at %(office)s") % {"office": office.name}
        if method == CANCEL:
            event.add("status", "CANCELLED")
            # For calendars that keep the event but do not show its status.
            summary = _("Cancelled: %(summary)s") % {"summary": summary}
        else:
            event.add("status", "CONFIRMED")
        event.add("summary", summary)
        event.add("location", office.address())
        event.add(
            "description",
            _("Reference %(reference)s. Bring your identity document. The service is free.")
            % {"reference": appointment.display_reference},
        )
        calendar.add_component(event)
    return calendar.to_ical()


def qr_svg(appointment: Appointment) -> SafeString:
    """The reference as an inline SVG QR code (the reference is printed beside it for people).

    A viewBox lets the page's CSS size it; the quiet zone is the standard's 4 modules, painted
    white so it stays quiet on any background."""
    svg = segno.make(appointment.reference, error="m", micro=False).svg_inline(
        scale=5, border=4, unit="px", light="#fff"
    )
    label = format_html(
        ' role="img" aria-label="{}"',
        _("QR code of the reference %(reference)s") % {"reference": appointment.display_reference},
    )
    # segno's output holds only the QR path; the reference is letters and digits from our alphabet.
    return mark_safe(svg.replace("<svg", "<svg" + label, 1))  # noqa: S308
