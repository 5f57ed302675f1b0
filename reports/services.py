"""What the reports app writes besides the export log: the anonymous daily statistics."""

import datetime

from django.db import transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.utils import timezone

from appointments.models import Appointment, Office
from desk.models import Ticket
from eligibility.models import eligible_codes
from reports.figures import ATTENDED, local_days
from reports.models import DailyStat

Status = Appointment.Status
# Days before yesterday are refreshed too: a no-show is marked, a call finished, after the day.
REFRESH_DAYS = 7


def _kind(outcomes: object, nationality: object, host: object) -> tuple[str, str, str]:
    """A row's key: the first pathway the screening found eligible, nationality, host country."""
    eligible = eligible_codes(outcomes)
    return (eligible[0] if eligible else "", str(nationality or ""), str(host or ""))


def refresh_daily_stats(*, office: Office, day: datetime.date) -> int:
    """Count one office's local day again from its appointments and replace its rows (running it
    twice gives the same rows). Returns how many rows the day has."""
    appointments = Appointment.objects.filter(local_days([office], day, day, "slot__starts_at"))
    groups: dict[tuple[str, str, str], dict[str, int]] = {}
    rows = appointments.values_list("screening__outcomes", "nationality", "screening__host_country", "status").annotate(
        n=Count("pk"),
        lead=Sum(ExpressionWrapper(F("slot__starts_at") - F("created_at"), output_field=DurationField())),
    )
    for outcomes, nationality, host, status, n, lead in rows:
        key = _kind(outcomes, nationality, host)
        counts = groups.setdefault(
            key, dict.fromkeys(("booked", "cancelled", "attended", "served", "no_show", "lead"), 0)
        )
        counts["booked"] += n
        counts["cancelled"] += n if status == Status.CANCELLED else 0
        counts["attended"] += n if status in ATTENDED else 0
        counts["served"] += n if status == Status.SERVED else 0
        counts["no_show"] += n if status == Status.NO_SHOW else 0
        counts["lead"] += int(lead.total_seconds()) if lead else 0
    waits = (
        Ticket.objects.filter(appointment__in=appointments, called_at__isnull=False)
        .values_list(
            "appointment__screening__outcomes", "appointment__nationality", "appointment__screening__host_country"
        )
        .annotate(
            n=Count("pk"),
            seconds=Sum(ExpressionWrapper(F("called_at") - F("checked_in_at"), output_field=DurationField())),
        )
    )
    timed: dict[tuple[str, str, str], tuple[int, int]] = {}
    for outcomes, nationality, host, n, seconds in waits:
        key = _kind(outcomes, nationality, host)
        before = timed.get(key, (0, 0))
        timed[key] = (before[0] + n, before[1] + (int(seconds.total_seconds()) if seconds else 0))
    now = timezone.now()
    with transaction.atomic():
        DailyStat.objects.filter(office=office, day=day).delete()
        DailyStat.objects.bulk_create(
            DailyStat(
                office=office,
                day=day,
                pathway=pathway,
                nationality=nationality,
                host_country=host,
                booked=counts["booked"],
                cancelled=counts["cancelled"],
                attended=counts["attended"],
                served=counts["served"],
                no_show=counts["no_show"],
                lead_seconds=counts["lead"],
                waits=timed.get((pathway, nationality, host), (0, 0))[0],
                wait_seconds=timed.get((pathway, nationality, host), (0, 0))[1],
                refreshed_at=now,
            )
            for (pathway, nationality, host), counts in groups.items()
        )
    return len(groups)


def refresh_recent_daily_stats(*, now: datetime.datetime | None = None) -> int:
    """The hourly run: every office's last REFRESH_DAYS local days up to yesterday."""
    now = now or timezone.now()
    refreshed = 0
    for office in Office.objects.all():
        yesterday = office.local_today(now) - datetime.timedelta(days=1)
        for back in range(REFRESH_DAYS):
            refreshed += refresh_daily_stats(office=office, day=yesterday - datetime.timedelta(days=back))
    return refreshed
