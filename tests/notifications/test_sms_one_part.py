"""Every SMS fits one GSM-7 part (160 positions) in every language, with the longest realistic
values: each person-message (templates/notifications/person/*.sms.txt: phone code, waitlist,
lottery) and each appointment SMS (templates/notifications/sms.txt, which falls back to its short
wording by itself).

The texts come from the compiled catalogues (locale/<language>/LC_MESSAGES/django.mo, read by
Django's translation machinery), so once Spanish and Creole are translated this checks them too;
an entry not translated yet is sent, and checked, in English. The project sends GSM-7 on purpose
(notifications/sms.py: letters GSM-7 lacks, such as á, í, ó, ú, are sent as their base letter;
é, ñ, ü, ¿ and ¡ are kept), so a text must also hold no character that would be sent as "?".

The longest realistic values, the caps documented in docs/architecture.md ("Messages"):
- `SITE_URL` of at most 33 characters (`https://citas.movilidadsegura.org`);
- an office's city of at most 20 characters, as people say it ("Ciudad de Guatemala", "Santo
  Domingo" for Santo Domingo de los Tsáchilas; the model allows 80, which no SMS could hold);
- the longest date each language writes in the year (weekday and month names), links with their
  real 22-character tokens, a place in the order of 5 digits, appointment ids of 7 digits."""

import datetime
import secrets
import zoneinfo
from typing import Any

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from appointments.models import Appointment, Office
from notifications import sending
from notifications.models import Notification
from notifications.sms import GSM7_SINGLE_PART, gsm7_length, is_gsm7, to_gsm7
from tests.notifications.conftest import book

LANGUAGES = [code for code, _name in settings.LANGUAGES]
LONGEST_SITE_URL = "https://citas.movilidadsegura.org"
LONGEST_CITY = "San José de Guaviare"  # 20 characters
ZONE = zoneinfo.ZoneInfo("America/Guayaquil")


def test_the_longest_values_are_the_caps_the_project_enforces():
    """The office's admin page refuses a longer city; check --deploy warns about a longer SITE_URL."""
    from appointments.models import CITY_MAX_LENGTH
    from core.checks import SITE_URL_MAX_LENGTH

    assert len(LONGEST_CITY) == CITY_MAX_LENGTH
    assert len(LONGEST_SITE_URL) == SITE_URL_MAX_LENGTH


SMS_DATE = "D j M H:i"  # the SMS's date format msgid (templates/notifications/sms.txt), translated


@pytest.fixture(autouse=True)
def _long_site(sms_folder: Any, settings: Any) -> None:
    settings.SITE_URL = LONGEST_SITE_URL


def longest_moment(language: str, format_msgid: str = SMS_DATE) -> datetime.datetime:
    """The moment of the year whose date, as the SMS write it in this language, is longest."""
    start = datetime.datetime(2030, 1, 1, 23, 59, tzinfo=ZONE)
    with translation.override(language):
        written = gettext(format_msgid)
        moments = [start + datetime.timedelta(days=n) for n in range(366)]
        return max(moments, key=lambda moment: len(to_gsm7(date_format(moment, written))))


def written(moment: datetime.datetime, language: str, format_msgid: str = SMS_DATE) -> str:
    with translation.override(language):
        return date_format(moment, gettext(format_msgid) if format_msgid == SMS_DATE else format_msgid)


def link(language: str, name: str, *args: Any) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse(name, args=args)


def office() -> Office:
    return Office(name="x" * 120, slug="long", city=LONGEST_CITY, country="EC", time_zone=ZONE.key)


def person_details(kind: str, event: str, language: str) -> dict[str, Any]:
    """What the services put in a person-message's details, each value at its longest."""
    token = secrets.token_urlsafe(16)
    when = written(longest_moment(language), language)
    questions = link(language, "eligibility:begin")
    if kind == Notification.Kind.PHONE_CODE:
        return {"code": "123456", "minutes": 60}
    if kind == Notification.Kind.WAITLIST:
        place = link(language, "allocation:waitlist-place", token)
        # An offer's end is written as the hour alone when it is within 12 hours (the default
        # offer lasts WAITLIST_OFFER_MINUTES, 60), as the waitlist's service does.
        until = written(longest_moment(language), language, "H:i") if settings.WAITLIST_OFFER_MINUTES <= 720 else when
        return {
            "offer": {"event": "offer", "when": when, "until": until, "url": place},
            "missed": {"event": "missed", "url": questions},
            "lapsed": {"event": "lapsed", "days": 30, "url": questions},
            "joined": {"event": "joined", "url": place},
        }[event]
    offer = link(language, "allocation:lottery-offer", token)
    number = "ABCD-EFGH"
    return {
        "requested": {"event": "requested", "number": number, "when": when},
        "won": {"event": "won", "number": number, "when": when, "until": when, "url": offer},
        "passed_down": {"event": "passed_down", "number": number, "when": when, "until": when, "url": offer},
        "not_drawn": {"event": "not_drawn", "number": number, "position": 99_999},
        "expired": {"event": "expired", "number": number},
    }[event]


PERSON_MESSAGES = [
    (Notification.Kind.PHONE_CODE, ""),
    *[(Notification.Kind.WAITLIST, event) for event in ("offer", "missed", "lapsed", "joined")],
    *[(Notification.Kind.LOTTERY, event) for event in ("requested", "won", "passed_down", "not_drawn", "expired")],
]


def check_fits(text: str, raw_texts: list[str], what: Any) -> None:
    over = gsm7_length(text) - GSM7_SINGLE_PART
    assert over <= 0, f"{what}: {gsm7_length(text)} positions, {over} too many for one part: {text}"
    assert is_gsm7(text), (what, text)
    # Nothing outside GSM-7 that could only be sent as "?".
    assert text.count("?") in {raw.count("?") for raw in raw_texts}, (what, text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("kind", "event"), PERSON_MESSAGES)
def test_each_person_message_fits_one_gsm7_part_with_the_longest_values(kind, event, language):
    details = person_details(kind, event, language)
    notification = Notification(kind=kind, channel="sms", language=language, office=office(), details=details)
    text = sending.render_person(notification)
    with translation.override(language), timezone.override(ZONE):
        context = {"details": details, "office": notification.office, "site_url": settings.SITE_URL}
        raw = render_to_string(f"notifications/person/{kind}.sms.txt", context)
    assert len(text) > 40, (kind, event, text)  # a message was written for this event
    for value in details.values():
        if isinstance(value, str) and value.startswith("https://"):
            assert value in text, (kind, event, text)  # the link whole, never cut
    check_fits(text, [raw], (kind, event, language))


APPOINTMENT_KINDS = [
    Notification.Kind.CONFIRMATION,
    Notification.Kind.MOVED,
    Notification.Kind.CANCELLED,
    Notification.Kind.REMINDER,
    Notification.Kind.LAST_REMINDER,
    Notification.Kind.TURN,
]


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_appointment_sms_fits_one_gsm7_part_with_the_longest_values(office, published, language):
    office.city = LONGEST_CITY
    office.save()
    appointment = book(office, published, email="", language=language)
    appointment = Appointment.objects.select_related("slot", "office").get(pk=appointment.pk)
    appointment.pk = 9_999_999  # a long manage link, as after millions of bookings
    appointment.revision = 999
    appointment.slot.starts_at = longest_moment(language)
    appointment.office.time_zone = ZONE.key
    for kind in APPOINTMENT_KINDS:
        details = {"ticket": "AB-999", "counter": 99} if kind == Notification.Kind.TURN else {}
        notification = Notification(
            appointment=appointment, kind=kind, channel="sms", language=language, details=details
        )
        rendered = sending.render(notification)
        text = rendered.sms
        raws = [_raw(rendered, compact) for compact in (False, True)]
        assert appointment.display_reference in text, (kind, text)
        check_fits(text, raws, (kind, language))


def _raw(rendered: Any, compact: bool) -> str:
    with translation.override(rendered.language), timezone.override(rendered.zone):
        return render_to_string("notifications/sms.txt", {**rendered.context, "compact": compact})


# ---------------------------------------------------------------------------------------------
# The values above are what the services write
# ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_lottery_writes_its_dates_as_the_other_sms_do(published, language, settings):
    """The longest values above assume the lottery's SMS write a time as the appointment SMS do
    (`D j M H:i`, translated) and carry the keys listed: checked against a real draw."""
    from allocation import lottery_services
    from allocation.models.lottery import LotteryRequest
    from tests.allocation.test_lottery import EVERY_DAY_TWO_SLOTS, after_close, lottery_office, make_draw, request_for

    settings.LOTTERY_CONFIRM_HOURS = 24
    lottery = lottery_office(EVERY_DAY_TWO_SLOTS)
    draw = make_draw(lottery)
    for n in range(3):
        request_for(draw, published, n, language=language)
    drawn_at = after_close(draw)
    lottery_services.run_draw(draw_id=draw.pk, now=drawn_at)
    lottery_services.expire_offers(now=drawn_at + datetime.timedelta(hours=25))
    seen = set()
    for row in Notification.objects.filter(kind=Notification.Kind.LOTTERY):
        event = row.details["event"]
        seen.add(event)
        expected = person_details(Notification.Kind.LOTTERY, event, language)
        assert set(row.details) - {"expires_at"} == set(expected), event
        with translation.override(language), timezone.override(lottery.zone):
            if event == "requested":
                assert row.details["when"] == date_format(timezone.localtime(draw.closes_at), gettext(SMS_DATE))
            if event in ("won", "passed_down"):
                request = LotteryRequest.objects.get(phone=row.recipient)
                assert row.details["when"] == date_format(timezone.localtime(request.slot.starts_at), gettext(SMS_DATE))
                until = request.offered_at + datetime.timedelta(hours=24)
                assert row.details["until"] == date_format(timezone.localtime(until), gettext(SMS_DATE))
    assert seen == {"requested", "won", "passed_down", "not_drawn", "expired"}
