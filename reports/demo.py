"""Four weeks of history at the demo offices for `make run`, so the report shows real-looking
figures: past appointments, most served (with tickets and waiting times), some no-shows and
cancellations, then the daily statistics counted. Written straight to the tables, since the
booking services (rightly) refuse past times. Running it again adds nothing."""

import collections
import datetime
import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from appointments.models import Appointment, Office, Slot
from appointments.services.booking import new_reference
from appointments.services.slots import generate_slots
from desk.models import Counter, Ticket
from eligibility.models import ScreenerStart, ScreenerVersion, Screening
from reports.services import refresh_daily_stats

WEEKS = 4
PER_DAY = 8
# Of every ten appointments: seven served, one no-show, two cancelled.
PATTERN = ["served"] * 7 + ["no_show"] + ["cancelled"] * 2
NATIONALITIES = {"GT": ["GT"], "CO": ["VE", "CU", "HT"], "CR": ["NI", "VE"], "EC": ["VE", "CO", "HT", "CU"]}


def load_demo_history(*, now: datetime.datetime | None = None) -> int:
    """The past WEEKS weeks at every active office; returns how many appointments were made."""
    now = now or timezone.now()
    version = ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).first()
    if version is None:
        return 0
    return sum(_office_history(office, version, now) for office in Office.objects.filter(active=True))


def _office_history(office: Office, version: ScreenerVersion, now: datetime.datetime) -> int:
    tag = f"HIST{office.pk}-"
    if Appointment.objects.filter(office=office, document_number__startswith=tag).exists():
        return 0
    today = office.local_today(now)
    first = today - datetime.timedelta(weeks=WEEKS)
    # The slots of those days, as the hourly task made them then.
    generate_slots(office=office, now=datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone))
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=office.zone)
    end = datetime.datetime.combine(today, datetime.time.min, tzinfo=office.zone)
    days: dict[datetime.date, list[Slot]] = {}
    for slot in Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end, capacity__gt=0).order_by(
        "starts_at"
    ):
        days.setdefault(slot.local_start().date(), []).append(slot)
    pathways = list(office.pathways.order_by("order"))
    counters = list(Counter.objects.filter(office=office).order_by("number"))
    nationalities = NATIONALITIES.get(office.country.code, [office.country.code])
    made = 0
    screened: collections.Counter[datetime.date] = collections.Counter()
    with transaction.atomic():
        for day, slots in sorted(days.items()):
            for n, slot in enumerate(slots[:PER_DAY]):
                made += 1
                status = PATTERN[(made + day.toordinal()) % len(PATTERN)]
                pathway = pathways[made % len(pathways)].code if pathways else ""
                screening = Screening.objects.create(
                    version=version,
                    host_country=office.country.code,
                    answers={},
                    outcomes={p.code: {"eligible": p.code == pathway, "order": p.order} for p in pathways},
                    language="es",
                )
                booked_at = slot.starts_at - datetime.timedelta(days=2 + made % 9, hours=made % 7)
                appointment = Appointment.objects.create(
                    reference=new_reference(),
                    office=office,
                    slot=slot,
                    screening=screening,
                    status=status,
                    booking_key=uuid.uuid4(),
                    full_name=f"Persona de ejemplo {made}",
                    date_of_birth=datetime.date(1970 + made % 30, 1 + made % 12, 1 + made % 28),
                    nationality=nationalities[made % len(nationalities)],
                    document_type="passport",
                    document_number=f"{tag}{made:05d}",
                    document_country=nationalities[made % len(nationalities)],
                    phone="+573001110000",
                    language="es",
                    consent_at=booked_at,
                    cancelled_at=booked_at + datetime.timedelta(days=1) if status == "cancelled" else None,
                )
                Appointment.objects.filter(pk=appointment.pk).update(created_at=booked_at)
                Screening.objects.filter(pk=screening.pk).update(created_at=booked_at)
                screened[timezone.localdate(booked_at)] += 1
                if status != "cancelled":
                    Slot.objects.filter(pk=slot.pk).update(taken=slot.taken + 1)
                if status == "served":
                    arrived = slot.starts_at - datetime.timedelta(minutes=5 + n % 10)
                    Ticket.objects.create(
                        appointment=appointment,
                        office=office,
                        day=day,
                        prefix="A",
                        number=n + 1,
                        checked_in_at=arrived,
                        counter=counters[n % len(counters)] if counters else None,
                        times_called=1,
                        called_at=arrived + datetime.timedelta(minutes=8 + (made * 7) % 35),
                        first_called_at=arrived + datetime.timedelta(minutes=8 + (made * 7) % 35),
                        finished_at=arrived + datetime.timedelta(minutes=30 + (made * 7) % 35),
                    )
    # Generating as of four weeks ago dropped the empty slots past that horizon: the coming weeks
    # are generated again as of now.
    generate_slots(office=office, now=now)
    refresh_daily_stats(office=office, days=[first + datetime.timedelta(days=n) for n in range((today - first).days)])
    # Some people start the screener and stop before the end: about one in four.
    for day, n in screened.items():
        noon = datetime.datetime.combine(day, datetime.time(12), tzinfo=office.zone).astimezone(datetime.UTC)
        start, _new = ScreenerStart.objects.get_or_create(hour=noon, host_country=office.country.code)
        ScreenerStart.objects.filter(pk=start.pk).update(started=F("started") + n + n // 3)
    return made
