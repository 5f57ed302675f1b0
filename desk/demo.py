"""Today's queue at the demo offices for `make run`: appointments of today, the earlier ones
checked in (some called, some served), so a newcomer sees a live queue at once. Everything goes
through the same services as the real desk. Running it again the same day adds nothing."""

import datetime
import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from appointments.errors import BookingError
from appointments.lifecycle import Transition
from appointments.models import Appointment, Office, Slot
from appointments.services.booking import ApplicantDetails, book_appointment
from appointments.services.slots import generate_slots
from desk import services
from desk.models import Counter
from eligibility.demo import eligible_screening
from eligibility.models import ScreenerVersion

NAMES = [
    "María José Pérez López",
    "Juan Carlos Hernández",
    "Ana Lucía Morales",
    "José Antonio Ramírez",
    "Rosa Elena Castillo",
    "Luis Fernando García",
    "Carmen Yolanda Ortiz",
    "Pedro Pablo Méndez",
    "Sofía Alejandra Ruiz",
    "Miguel Ángel Torres",
    "Gabriela Estrada",
    "Jorge Luis Cifuentes",
]


def load_demo_queue(office: Office, *, now: datetime.datetime | None = None) -> int:
    """Book today's demo appointments at the office and run the morning so far; returns how many
    appointments were booked (0 when today's are there already or the office is closed today)."""
    now = now or timezone.now()
    today = office.local_today(now)
    for number in range(1, 4):
        Counter.objects.get_or_create(office=office, number=number)
    tag = f"DEMO{today:%Y%m%d}{office.pk}"
    if Appointment.objects.filter(document_number__startswith=tag).exists():
        return 0
    start, end = services.day_bounds(office, today)
    # Today's earlier slots were not generated (they had passed): make them as of this morning.
    generate_slots(office=office, now=start)
    slots = list(Slot.objects.filter(office=office, starts_at__gte=start, starts_at__lt=end, capacity__gt=0))
    version = ScreenerVersion.objects.filter(status=ScreenerVersion.Status.PUBLISHED).first()
    pathways = list(office.pathways.order_by("order"))
    if not slots or version is None or not pathways:
        return 0
    booked = []
    # As if booked two days ago, so the minimum notice is met; one a slot, up to twelve.
    booked_at = start - datetime.timedelta(days=2)
    for n, slot in enumerate(slots[: len(NAMES)]):
        local = office.pk % 1000
        details = ApplicantDetails(
            full_name=NAMES[n],
            date_of_birth=datetime.date(1975 + n, 1 + n % 12, 10 + n),
            nationality=office.country.code,
            document_type="national_id",
            document_number=f"{tag}{n:02d}",
            document_country=office.country.code,
            # A number of each person's own (ACTIVE_APPOINTMENTS_PER_PHONE).
            phone=f"+5025{local:03d}{n:04d}" if office.country.code == "GT" else f"+57300{local:03d}{n:04d}",
            language="es" if n % 3 else "en",
            party_size=1 + n % 3,
            companions=[{"name": f"Familiar {k + 1}", "age": 8 + k} for k in range(n % 3)],
        )
        try:
            booked.append(
                book_appointment(
                    screening=eligible_screening(version, pathways),
                    slot_id=slot.pk,
                    details=details,
                    booking_key=uuid.uuid4(),
                    now=booked_at,
                )
            )
        except BookingError:
            continue
    desk_user = get_user_model().objects.filter(username="staff").first()
    counters = list(Counter.objects.filter(office=office).order_by("number"))
    started = [a for a in booked if a.slot.starts_at <= now]
    for n, appointment in enumerate(started):
        if n % 5 == 4:
            continue  # someone who has not come (yet)
        arrived = appointment.slot.starts_at - datetime.timedelta(minutes=10)
        ticket = services.check_in(office=office, appointment_id=appointment.pk, actor=desk_user, now=arrived)
        if n < len(started) - 3:
            counter = counters[n % len(counters)]
            called = arrived + datetime.timedelta(minutes=15)
            services.call_ticket(office=office, ticket_id=ticket.pk, counter_id=counter.pk, actor=desk_user, now=called)
            if n < len(started) - 5:
                services.finish_ticket(
                    office=office,
                    ticket_id=ticket.pk,
                    transition=Transition.SERVE,
                    actor=desk_user,
                    now=called + datetime.timedelta(minutes=20),
                )
    return len(booked)


def load_demo_queues(*, now: datetime.datetime | None = None) -> int:
    """Every active office's queue of today. Outside any transaction: each booking and desk
    action is a durable transaction of its own."""
    return sum(load_demo_queue(office, now=now) for office in Office.objects.filter(active=True))
