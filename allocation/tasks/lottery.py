"""The lottery's beat task (scheduled in settings.CELERY_BEAT_SCHEDULE): thin, idempotent."""

from celery import shared_task
from django.utils import timezone

from allocation import lottery_services
from allocation.models.lottery import Draw
from appointments.errors import BookingError

__all__ = ["run_lotteries"]


@shared_task
def run_lotteries() -> dict[str, int]:
    """Open the windows whose time has come (their seed's hash published), draw those that
    closed, pass down offers not confirmed in time and offer places freed since. Each draw is
    handled in its own transaction under its row lock, so running it twice does nothing more."""
    now = timezone.now()
    done = {"opened": 0, "drawn": 0, "passed": 0, "offered": 0, "busy": 0}
    due = Draw.objects.filter(status=Draw.Status.SCHEDULED, opens_at__lte=now)
    for draw_id in list(due.values_list("pk", flat=True)):
        opened = lottery_services.open_draw(draw_id=draw_id, now=now)
        done["opened"] += opened is not None and opened.status == Draw.Status.OPEN
    closed = Draw.objects.filter(status=Draw.Status.OPEN, closes_at__lte=now)
    for draw_id in list(closed.values_list("pk", flat=True)):
        try:
            drawn = lottery_services.run_draw(draw_id=draw_id, now=now)
            done["drawn"] += drawn is not None and drawn.status == Draw.Status.DRAWN
        except BookingError:
            done["busy"] += 1  # a slot's lock not given in time: the next run draws it
    try:
        done["passed"] = lottery_services.expire_offers(now=now)
        done["offered"] = lottery_services.offer_freed_places(now=now)
    except BookingError:
        done["busy"] += 1
    return done
