"""Fair allocation in `make run`: a lottery office whose request window is open when the demo is
loaded and drawn an hour later, and an office whose days are all taken, whose day page offers the
waitlist. Both in Guatemala, so the README's answers (a Guatemalan living there) reach them beside
the Guatemala City office. Everything goes through the services; running it again changes
nothing, except that it opens a new window once the last one is drawn and fills the days added
since."""

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from allocation import lottery_services
from allocation.models.lottery import Draw
from appointments.errors import BookingError
from appointments.models import Appointment, Office, OpeningHours, Slot
from appointments.services.booking import ApplicantDetails, book_appointment, bookable_window
from appointments.services.slots import generate_slots
from eligibility.demo import eligible_screening
from eligibility.models import Pathway, ScreenerVersion

# The draw comes this long after the demo is loaded: long enough to make a request, short
# enough to see the draw, the SMS and the offer in one sitting.
WINDOW = datetime.timedelta(hours=1)
PERIOD_DAYS = 5  # the days whose places the draw gives (a working week)


@dataclass(frozen=True)
class FairDemoOffice:
    slug: str
    name: str
    city: str
    address: str
    directions_en: str
    directions_es: str
    allocation: str
    opens: datetime.time
    closes: datetime.time
    counters: int
    horizon_days: int


LOTTERY_OFFICE = FairDemoOffice(
    "quetzaltenango",
    "Oficina de Movilidad Segura Quetzaltenango",
    "Quetzaltenango",
    "4a Calle 12-30, Zona 1, Quetzaltenango",
    "Beside the Parque Centroamérica, behind the municipal building.",
    "Junto al Parque Centroamérica, detrás de la municipalidad.",
    Office.Allocation.LOTTERY,
    datetime.time(8),
    datetime.time(12),
    2,
    21,
)
FULL_OFFICE = FairDemoOffice(
    "antigua",
    # Not "Antigua Guatemala": bench/bench_page_weight.py books at the office named Guatemala.
    "Oficina de Movilidad Segura Antigua",
    "Antigua",
    "5a Avenida Norte 8, Antigua Guatemala",
    "Half a block north of the Santa Catalina arch.",
    "A media cuadra al norte del Arco de Santa Catalina.",
    Office.Allocation.FIRST_COME,
    datetime.time(9),
    datetime.time(10),
    1,
    7,
)


def load_demo_allocation(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The two offices, the lottery's open draw and the full office's bookings. Outside any
    transaction: each booking is a durable transaction of its own."""
    now = now or timezone.now()
    lottery, full = _office(LOTTERY_OFFICE, now), _office(FULL_OFFICE, now)
    return {"draw": _open_draw(lottery, now), "booked": _fill(full, now)}


@transaction.atomic
def _office(demo: FairDemoOffice, now: datetime.datetime) -> Office:
    office, _ = Office.objects.update_or_create(
        slug=demo.slug,
        defaults={
            "name": demo.name,
            "country": "GT",
            "city": demo.city,
            "time_zone": "America/Guatemala",
            "address_en": demo.address,
            "address_es": demo.address,
            "directions_en": demo.directions_en,
            "directions_es": demo.directions_es,
            "phone": "+50277651234",
            "active": True,
            "allocation": demo.allocation,
            "min_notice_hours": 2,
            "horizon_days": demo.horizon_days,
        },
    )
    office.full_clean()
    office.pathways.set(Pathway.objects.all())
    office.hours.all().delete()
    for day in range(5):
        OpeningHours.objects.create(
            office=office, weekday=day, opens=demo.opens, closes=demo.closes, capacity=demo.counters
        )
    generate_slots(office=office, now=now)
    return office


def _open_draw(office: Office, now: datetime.datetime) -> Draw:
    """The draw taking requests now (or about to be drawn), else a new one: its window from now
    for an hour, its days after the last draw's, so two draws never overlap."""
    current = Draw.objects.filter(office=office, closes_at__gt=now).order_by("opens_at").first()
    if current is not None:
        return current
    closes = now.replace(second=0, microsecond=0) + WINDOW
    first = office.local_today(closes) + datetime.timedelta(days=2)
    last = Draw.objects.filter(office=office).order_by("-period_end").first()
    if last is not None:
        first = max(first, last.period_end + datetime.timedelta(days=1))
    draw = Draw(
        office=office,
        opens_at=now,
        closes_at=closes,
        period_start=first,
        period_end=first + datetime.timedelta(days=PERIOD_DAYS - 1),
    )
    lottery_services.save_draw(draw=draw, now=now)
    # Its window opens now: the seed made, its hash on the lottery page.
    return lottery_services.open_draw(draw_id=draw.pk, now=now) or draw


def _fill(office: Office, now: datetime.datetime) -> int:
    """Book every free place the office offers, so each of its days is full and its day page
    offers the waitlist; returns how many were booked."""
    version = ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).first()
    pathways = list(office.pathways.order_by("order"))
    if version is None or not pathways:
        return 0
    earliest, end = bookable_window(office, now)
    slots = Slot.objects.filter(office=office, starts_at__gte=earliest, starts_at__lt=end, capacity__gt=0)
    number = Appointment.objects.filter(office=office, document_number__startswith=f"FULL{office.pk}-").count()
    booked = 0
    for slot in slots.order_by("starts_at"):
        for _place in range(max(0, slot.capacity - slot.taken)):
            number += 1
            details = ApplicantDetails(
                full_name=f"Persona de demostración {number}",
                date_of_birth=datetime.date(1980 + number % 20, 1 + number % 12, 1 + number % 28),
                nationality="GT",
                document_type="national_id",
                document_number=f"FULL{office.pk}-{number:05d}",
                document_country="GT",
                phone=f"+5024{office.pk % 100:02d}{number:05d}",  # a number of each person's own
                language="es",
            )
            try:
                book_appointment(
                    screening=eligible_screening(version, pathways, host_country="GT"),
                    slot_id=slot.pk,
                    details=details,
                    booking_key=uuid.uuid4(),
                    now=now,
                )
            except BookingError:
                continue
            booked += 1
    return booked
