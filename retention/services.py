"""Personal data kept only as long as the privacy notice says: each app's own anonymiser, run in
batches by a nightly task (like pretix's data shredders, one per kind of data).

- Appointments RETENTION_DAYS after their time: name, date of birth (the age band at the
  appointment stays), document number, phone, e-mail and companions (`appointments.services.
  erasure`), the audit trail's details and the admin's change messages about them, and in the same
  transaction their messages' recipients, errors and details.
- Screenings: reduced to what booking and the statistics need once they are used for a booking,
  and after SCREENING_RETENTION_DAYS when never used (`eligibility.services.minimise_screenings`).
- Lottery requests RETENTION_DAYS after the last day of their draw's period: name, document
  number, phone and what was typed (`allocation.lottery_services.erase_requests`).
- Messages to people without an appointment (phone codes, waitlist and lottery news) lose their
  recipient and details after SCREENING_RETENTION_DAYS (`notifications.services.
  erase_person_messages`).
- Waitlist entries that left the list lose their name, document, phone and details after
  SCREENING_RETENTION_DAYS (`allocation.waitlist_services.erase_waitlist_entries`).

The daily statistics are counted first and stay. Every step is idempotent and skips rows another
request holds, so the run is safe while the site is in use."""

import datetime
import logging
from collections import Counter, defaultdict

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from allocation.lottery_services import erase_requests
from allocation.waitlist_services import erase_waitlist_entries
from appointments.models import ACTIVE_STATUSES, Appointment, Office
from appointments.services.erasure import erase
from eligibility.models import Screening
from eligibility.services import minimise_screenings
from notifications.services import erase_person_messages
from reports.models import CountedDay
from reports.services import refresh_daily_stats

BATCH = 500
logger = logging.getLogger(__name__)


def ended_before(now: datetime.datetime) -> Q:
    """Appointments whose time was more than RETENTION_DAYS ago."""
    return Q(slot__starts_at__lt=now - datetime.timedelta(days=settings.RETENTION_DAYS))


def run_retention(*, now: datetime.datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """The nightly run: every batch due, until none is left. Returns what it did."""
    now = now or timezone.now()
    done: Counter[str] = Counter()
    condition = ended_before(now)
    still_active = Appointment.objects.filter(condition, erased_at__isnull=True, status__in=ACTIVE_STATUSES).count()
    if still_active:
        # The end of their day never ran: they wait for it (desk.tasks.close_finished_days).
        logger.warning("retention left appointments still active after their time count=%s", still_active)
        done["still_active"] = still_active
    condition &= ~Q(status__in=ACTIVE_STATUSES)
    after = 0
    while ids := list(
        Appointment.objects.filter(condition, erased_at__isnull=True, pk__gt=after)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    ):
        after = ids[-1]
        _count_days_first(ids)
        erased = erase(ids=ids, now=now, condition=condition)
        done["appointments"] += len(erased)
        done["skipped"] += len(ids) - len(erased)
        done["batches"] += 1
    used = Exists(Appointment.objects.filter(screening=OuterRef("pk")))
    unused_before = now - datetime.timedelta(days=settings.SCREENING_RETENTION_DAYS)
    due = Screening.objects.filter(Q(used) | Q(created_at__lt=unused_before), minimised_at__isnull=True)
    while ids := list(due.order_by("pk").values_list("pk", flat=True)[:batch]):
        done["screenings"] += minimise_screenings(ids=ids, now=now)
        done["batches"] += 1
    done["person_messages"] += erase_person_messages(before=unused_before, batch=batch)
    done["waitlist_entries"] += erase_waitlist_entries(before=unused_before, now=now, batch=batch)
    done["lottery_requests"] += erase_requests(now=now, batch=batch)
    return dict(done)


def _count_days_first(ids: list[int]) -> None:
    """The statistics of these appointments' days are counted before anything is erased (they
    would count the same after, but a day never counted is counted now)."""
    days: dict[Office, set[datetime.date]] = defaultdict(set)
    for appointment in Appointment.objects.filter(pk__in=ids).select_related("slot", "office"):
        days[appointment.office].add(appointment.slot.starts_at.astimezone(appointment.office.zone).date())
    for office, wanted in days.items():
        counted = set(CountedDay.objects.filter(office=office, day__in=wanted).values_list("day", flat=True))
        missing = sorted(wanted - counted)
        if missing:
            refresh_daily_stats(office=office, days=missing)
