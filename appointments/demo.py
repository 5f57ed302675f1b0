"""Demo offices for `make run`: four cities, realistic hours and counters, one closure, and slots
for the horizon. Idempotent: running it again updates the same rows."""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from appointments.models import Closure, Office, OpeningHours
from appointments.services.slots import generate_slots
from eligibility.models import Pathway

WEEKDAYS = range(5)


@dataclass(frozen=True)
class DemoOffice:
    slug: str
    name: str
    country: str
    city: str
    time_zone: str
    address: str
    directions_en: str
    directions_es: str
    phone: str
    counters: int
    saturday: bool = False


DEMO_OFFICES = (
    DemoOffice(
        "guatemala",
        "Oficina de Movilidad Segura Guatemala",
        "GT",
        "Ciudad de Guatemala",
        "America/Guatemala",
        "12 Calle 1-25, Zona 10, Ciudad de Guatemala",
        "Second floor. Buses on Avenida La Reforma stop one block away.",
        "Segundo piso. Los buses de la Avenida La Reforma paran a una cuadra.",
        "+50223456789",
        4,
    ),
    DemoOffice(
        "bogota",
        "Oficina de Movilidad Segura Bogotá",
        "CO",
        "Bogotá",
        "America/Bogota",
        "Calle 26 #69-76, Bogotá",
        "TransMilenio station Avenida Rojas, then a five-minute walk.",
        "Estación de TransMilenio Avenida Rojas y cinco minutos a pie.",
        "+576015551234",
        3,
        saturday=True,
    ),
    DemoOffice(
        "san-jose",
        "Oficina de Movilidad Segura San José",
        "CR",
        "San José",
        "America/Costa_Rica",
        "Avenida Segunda, calles 5 y 7, San José",
        "Opposite the national theatre's side entrance.",
        "Frente a la entrada lateral del Teatro Nacional.",
        "+50622223333",
        2,
    ),
    DemoOffice(
        "quito",
        "Oficina de Movilidad Segura Quito",
        "EC",
        "Quito",
        "America/Guayaquil",
        "Av. Amazonas N32-87 y La Granja, Quito",
        "Trolebús stop La Y, two blocks south.",
        "Parada del Trolebús La Y, dos cuadras al sur.",
        "+59322555666",
        3,
    ),
)


@transaction.atomic
def load_demo_offices(*, now: datetime.datetime | None = None) -> list[Office]:
    now = now or timezone.now()
    pathways = list(Pathway.objects.all())
    offices = []
    for demo in DEMO_OFFICES:
        office, _ = Office.objects.update_or_create(
            slug=demo.slug,
            defaults={
                "name": demo.name,
                "country": demo.country,
                "city": demo.city,
                "time_zone": demo.time_zone,
                "address_en": demo.address,
                "address_es": demo.address,
                "directions_en": demo.directions_en,
                "directions_es": demo.directions_es,
                "phone": demo.phone,
                "active": True,
                # Short notice, so a newcomer can book within the 24-hour reminder window and see
                # the reminder arrive a minute later.
                "min_notice_hours": 2,
                "reminder_hours": 24,
                "last_reminder_hours": 2,
            },
        )
        office.full_clean()
        office.pathways.set(pathways)
        office.hours.all().delete()
        for day in WEEKDAYS:
            OpeningHours.objects.create(
                office=office, weekday=day, opens=datetime.time(8), closes=datetime.time(12), capacity=demo.counters
            )
            OpeningHours.objects.create(
                office=office, weekday=day, opens=datetime.time(13), closes=datetime.time(16), capacity=demo.counters
            )
        if demo.saturday:
            OpeningHours.objects.create(
                office=office, weekday=5, opens=datetime.time(8), closes=datetime.time(12), capacity=2
            )
        offices.append(office)
    # A closure a week ahead, so a newcomer sees what one looks like.
    training = offices[1].local_today(now) + datetime.timedelta(days=8)
    Closure.objects.update_or_create(
        office=offices[1],
        reason="Capacitación del personal / Staff training",
        defaults={"starts_on": training, "ends_on": training},
    )
    staff = get_user_model().objects.filter(username="staff").first()
    if staff is not None:
        offices[0].staff.add(staff)
    for office in offices:
        generate_slots(office=office, now=now)
    return offices
