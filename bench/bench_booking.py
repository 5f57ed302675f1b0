"""Booking under load, against gunicorn on PostgreSQL (run by `make bench`, on throwaway servers).

1. Contention: 200 clients at once, each going through the pages a person uses (booking start,
   days, times, hold, details, check, confirm) for 20 places across 4 slots. Reports successes
   (must be 20), overbookings (must be 0), 5xx responses (must be 0), p50/p95 latency of a whole
   attempt and attempts per second.
2. Availability: requests per second of the time-choice page and of a trivial page (the privacy
   notice) on the same server in the same run, and their ratio (target: at least 40%).

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser import CSRF, KEY, SLOT, Browser, details_form
from bench.common import gunicorn, machine, setup_django, write_result

setup_django()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Office, Slot  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from appointments.views.common import BUSY_RETRY_SECONDS  # noqa: E402
from bench.data import eligible_references, make_office, open_every_day, prepare_database  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_BOOKING_CLIENTS", "200"))
SLOTS, CAPACITY = 4, 5
GUNICORN_WORKERS, GUNICORN_THREADS = 4, 8
AVAILABILITY_REQUESTS, AVAILABILITY_CONCURRENCY = 1500, 8
# A busy page (429) asks to try again after its Retry-After (appointments.views.common.busy): a
# client does, at most this many times.
BUSY_TRIES = 3


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: dict[int, int] = {}

    def count(self, status: int) -> None:
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.status.items() if status >= 500)


class Visitor(Browser):
    """A browser whose every answer is counted in `stats`."""

    def __init__(self, base: str, stats: Stats) -> None:
        super().__init__(base)
        self.stats = stats

    def answered(self, path: str, status: int, text: str) -> None:
        self.stats.count(status)


def setup() -> tuple[Office, Office, list[str], datetime.date, datetime.date]:
    prepare_database()
    now = timezone.now()
    contested = make_office(
        "bench-contention",
        "Bench contention",
        address="-",
        max_party_size=4,
        verify_phone=False,  # the race for places, at "Confirm" (the SMS code step is not measured here)
    )
    day = contested.local_today(now) + datetime.timedelta(days=3)
    for i in range(SLOTS):
        starts = datetime.datetime.combine(day, datetime.time(9 + i), tzinfo=contested.zone)
        Slot.objects.create(
            office=contested, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=CAPACITY
        )
    browsing = make_office("bench-availability", "Bench availability", address="-", slot_minutes=15)
    open_every_day(browsing, opens=8, closes=16, capacity=3)
    generate_slots(office=browsing, now=now)
    browse_day = browsing.local_today(now) + datetime.timedelta(days=3)
    screenings = eligible_references(CLIENTS + 1)
    connection.close()
    return contested, browsing, screenings, day, browse_day


def attempt(base: str, stats: Stats, *, reference: str, office: Office, day: datetime.date, n: int, go: Any) -> dict:
    browser = Visitor(base, stats)
    go.wait()
    started = time.perf_counter()
    outcome = "failed"
    status, _, location = browser.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    if status == 302:
        browser.request(f"/es/book/office/{office.slug}/")
        status, page, location = browser.request(f"/es/book/office/{office.slug}/{day}/")
        offered = SLOT.findall(page) if status == 200 else []
        busy = 0
        while offered:
            token = CSRF.search(page)[1]
            slot = offered[n % len(offered)]
            status, page, location = browser.request(
                f"/es/book/office/{office.slug}/{day}/", {"csrfmiddlewaretoken": token, "slot": slot}
            )
            if status != 429 or busy == BUSY_TRIES:
                break
            # The busy page (the slot's lock waited BOOKING_LOCK_TIMEOUT_MS): try again after its
            # Retry-After, as it asks, with the times as they are then.
            busy += 1
            time.sleep(BUSY_RETRY_SECONDS)
            status, page, location = browser.request(f"/es/book/office/{office.slug}/{day}/")
            offered = SLOT.findall(page) if status == 200 else []
        if not offered:
            outcome = "full"
        elif status == 302 and location.endswith("/book/people/"):
            # Who comes: the person alone (the page every booking passes since group bookings).
            _, page, _ = browser.request("/es/book/people/")
            browser.request("/es/book/people/", {"csrfmiddlewaretoken": CSRF.search(page)[1], "party_size": "1"})
            _, page, _ = browser.request("/es/book/details/")
            details = details_form(
                CSRF.search(page)[1],
                name=f"Persona {n}",
                document=f"BENCH{n:05d}",
                phone=f"300 1{n:06d}",  # one number per person (two appointments per number)
            )
            status, page, location = browser.request("/es/book/details/", details)
            _, page, _ = browser.request("/es/book/check/")
            status, page, location = browser.request(
                "/es/book/check/", {"csrfmiddlewaretoken": CSRF.search(page)[1], "key": KEY.search(page)[1]}
            )
            outcome = "booked" if status == 302 and location.endswith("/manage/appointment/") else "failed"
        else:
            outcome = "full" if status in (302, 400) else "failed"
    return {"outcome": outcome, "seconds": time.perf_counter() - started, "busy": busy}


def throughput(base: str, stats: Stats, paths: list[str], browser: Visitor | None = None) -> float:
    """Requests per second for AVAILABILITY_REQUESTS GETs of the paths, AVAILABILITY_CONCURRENCY at a time."""
    visitor = browser or Visitor(base, stats)

    def get(i: int) -> int:
        return visitor.request(paths[i % len(paths)])[0]

    with ThreadPoolExecutor(AVAILABILITY_CONCURRENCY) as pool:
        list(pool.map(get, range(50)))  # warm up
        started = time.perf_counter()
        codes = list(pool.map(get, range(AVAILABILITY_REQUESTS)))
        elapsed = time.perf_counter() - started
    if set(codes) != {200}:
        raise RuntimeError(f"unexpected statuses: {set(codes)}")
    return AVAILABILITY_REQUESTS / elapsed


def main() -> int:
    contested, browsing, screenings, day, browse_day = setup()
    port = int(os.environ.get("BENCH_PORT", "8765"))
    with gunicorn(
        port,
        ready="/es/privacy/",
        threads=GUNICORN_THREADS,
        WEB_CONCURRENCY=str(GUNICORN_WORKERS),
        # Every simulated client comes from 127.0.0.1: lift the per-IP limits on holds.
        HOLD_RATE="100000/m",
        HOLD_LIVE_PER_ADDRESS="100000",
    ) as base:
        stats = Stats()
        go = threading.Barrier(CLIENTS)
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(
                pool.map(
                    lambda n: attempt(base, stats, reference=screenings[n], office=contested, day=day, n=n, go=go),
                    range(CLIENTS),
                )
            )
        elapsed = time.perf_counter() - started
        booked = Appointment.objects.filter(office=contested, status="booked").count()
        over = sum(
            max(0, slot.appointments.filter(status="booked").count() - slot.capacity)
            for slot in Slot.objects.filter(office=contested)
        )
        latencies = sorted(r["seconds"] for r in results)
        outcomes = {name: sum(r["outcome"] == name for r in results) for name in ("booked", "full", "failed")}
        retried = f"{sum(r['busy'] > 0 for r in results)} ({sum(r['busy'] for r in results)} times)"

        visitor = Visitor(base, stats)
        visitor.request("/es/book/?" + urllib.parse.urlencode({"screening": screenings[-1]}))
        time_page = f"/es/book/office/{browsing.slug}/{browse_day}/"
        if visitor.request(time_page)[0] != 200:
            raise RuntimeError("the time page did not answer 200")
        trivial_rps = throughput(base, stats, ["/es/privacy/"])
        time_rps = throughput(base, stats, [time_page], browser=visitor)
        trivial_rps_after = throughput(base, stats, ["/es/privacy/"])
        trivial = (trivial_rps + trivial_rps_after) / 2
        ratio = time_rps / trivial

    slots_at_office = Slot.objects.filter(office=browsing).count()
    times_on_day = sum(1 for slot in Slot.objects.filter(office=browsing) if slot.local_start().date() == browse_day)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    passed = booked == SLOTS * CAPACITY and over == 0 and stats.server_errors == 0 and ratio >= 0.4
    text = f"""## Booking under load (`bench/bench_booking.py`)

Command: `make bench` (throwaway PostgreSQL 15 and Redis; gunicorn with {GUNICORN_WORKERS} workers ×
{GUNICORN_THREADS} threads on 127.0.0.1). Run on {timezone.now():%Y-%m-%d}; machine: {machine()}.

**Contention.** {CLIENTS} clients start together; each opens the booking with its own eligible
screening and goes through the days page, the times page, the hold, the details, the check page and
the confirm button, for {SLOTS * CAPACITY} places ({SLOTS} slots × {CAPACITY}).

| Measure | Result | Target |
| --- | --- | --- |
| Appointments booked | {booked} | {SLOTS * CAPACITY} |
| Overbooked places | {over} | 0 |
| 5xx responses | {stats.server_errors} | 0 |
| Attempts told "full" | {outcomes["full"]} | {CLIENTS - SLOTS * CAPACITY} |
| Attempts failed otherwise | {outcomes["failed"]} | 0 |
| Attempts asked to try again (busy page, 429), then retried | {retried} | |
| Attempt latency p50 / p95 | {p50:.2f} s / {p95:.2f} s | |
| Attempts per second | {CLIENTS / elapsed:.1f} | |
| HTTP statuses seen | {", ".join(f"{k}: {v}" for k, v in sorted(stats.status.items()))} | |

**Availability.** {AVAILABILITY_REQUESTS} GETs, {AVAILABILITY_CONCURRENCY} at a time, with a session. As in
production, the times page reads the day's times from the shared cache (kept 5 seconds, refreshed
whenever places change) and the screening from the session; the trivial page renders the privacy
notice, which reads nothing.

| Page | Requests per second |
| --- | --- |
| Time choice ({slots_at_office} slots at the office, {times_on_day} on the day) | {time_rps:.0f} |
| Privacy notice (trivial page; mean of a run before and after) | {trivial:.0f} |
| Ratio | {ratio:.0%} (target: at least 40%) |
"""
    return write_result("booking", text, passed=passed)


if __name__ == "__main__":
    sys.exit(main())
