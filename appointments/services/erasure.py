"""The appointments app's own anonymiser (run by `retention`): what identifies a person is erased
from ended appointments, their audit trail and the admin's change log; what the statistics need
stays (office, day, status, nationality, party size, the age band, the times).

Safe while the site is in use: each batch locks its rows, skipping rows another request holds
(they are taken by the next run), and checks the conditions again under the lock."""

import datetime

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from appointments.models import ACTIVE_STATUSES, Appointment, AppointmentEvent
from notifications.services import erase_recipients

# Age bands (lowest age of each), as reports count them.
AGE_BANDS = [(60, "60+"), (45, "45-59"), (30, "30-44"), (18, "18-29"), (0, "0-17")]
# Audit-trail details that name no one (tickets, counters, slots, reasons): the rest is dropped.
EVENT_KEYS = {"slot", "from", "to", "ticket", "counter", "reason", "walk_in", "run", "closure"}


def age_band(born: datetime.date | None, on: datetime.date) -> str:
    if born is None:
        return ""
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return next(band for lowest, band in AGE_BANDS if age >= lowest)


def erase(*, ids: list[int], now: datetime.datetime, condition: Q, wait: bool = False) -> list[int]:
    """Erase the personal data of these appointments where `condition` still holds under the lock;
    returns the ids erased. Idempotent: erased rows are skipped. Rows another request holds are
    skipped (left for the next run), or waited for with `wait`. An appointment still active
    (booked, checked in, called) is never erased: its document is what keeps it the only one."""
    with transaction.atomic():
        locked = list(
            Appointment.objects.select_for_update(skip_locked=not wait, of=("self",))
            .exclude(status__in=ACTIVE_STATUSES)
            .filter(condition, pk__in=ids, erased_at__isnull=True)
            .select_related("slot")
            .only("pk", "date_of_birth", "age_band", "slot__starts_at", "office__time_zone")
            .select_related("office")
        )
        for appointment in locked:
            day = appointment.slot.starts_at.astimezone(appointment.office.zone).date()
            appointment.age_band = appointment.age_band or age_band(appointment.date_of_birth, day)
        Appointment.objects.bulk_update(locked, ["age_band"])
        done = [appointment.pk for appointment in locked]
        Appointment.objects.filter(pk__in=done).update(
            full_name="",
            date_of_birth=None,
            document_number="",
            phone="",
            email="",
            companions=[],
            erased_at=now,
            updated_at=now,
        )
        _erase_trail(done)
        # Its messages in the same transaction (the one other app an appointment change writes).
        erase_recipients(appointment_ids=done)
    return done


def _erase_trail(ids: list[int]) -> None:
    """The audit trail keeps what happened and when, not who it was about."""
    events = list(AppointmentEvent.objects.filter(appointment_id__in=ids).exclude(data={}).only("pk", "data"))
    for event in events:
        event.data = {key: value for key, value in event.data.items() if key in EVENT_KEYS}
    AppointmentEvent.objects.bulk_update(events, ["data"])
    kind = ContentType.objects.get_for_model(Appointment)
    LogEntry.objects.filter(content_type=kind, object_id__in=[str(pk) for pk in ids]).update(change_message="")


def erase_own_data(*, appointment: Appointment, now: datetime.datetime | None = None) -> bool:
    """The person deletes their own data after cancelling: only a cancelled appointment."""
    now = now or timezone.now()
    cancelled = Q(status=Appointment.Status.CANCELLED)
    return bool(erase(ids=[appointment.pk], now=now, condition=cancelled, wait=True))
