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
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movilidad.settings")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Appointment, Office, OpeningHours, Slot  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.common import machine, write_section  # noqa: E402
from eligibility import seed  # noqa: E402
from eligibility.models import Pathway, ScreenerVersion, Screening  # noqa: E402
from eligibility.services import screening_reference  # noqa: E402

CLIENTS = 200
SLOTS, CAPACITY = 4, 5
GUNICORN_WORKERS, GUNICORN_THREADS = 4, 8
AVAILABILITY_REQUESTS, AVAILABILITY_CONCURRENCY = 1500, 8
START, END = "<!-- bench:booking -->", "<!-- /bench:booking -->"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')
SLOT = re.compile(r'name="slot" value="(\d+)"')


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


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """One visitor: its own cookies; redirects are returned, not followed."""

    def __init__(self, base: str, stats: Stats) -> None:
        self.base, self.stats = base, stats
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=120) as response:
                status, text, location = response.status, response.read().decode(), ""
        except urllib.error.HTTPError as exc:
            status, text, location = exc.code, exc.read().decode(errors="replace"), exc.headers.get("Location", "")
        self.stats.count(status)
        return status, text, location


def setup() -> tuple[Office, Office, list[str], datetime.date, datetime.date]:
    call_command("migrate", verbosity=0)
    seed.load(apps)
    now = timezone.now()
    version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
    pathways = list(Pathway.objects.all())
    outcomes = {
        p.code: {"eligible": True, "reasons": {"en": [], "es": []}, "order": p.order, "bring": {"en": "", "es": ""}}
        for p in pathways
    }
    contested = Office.objects.create(
        name="Bench contention",
        slug="bench-contention",
        country="CO",
        city="Bogotá",
        time_zone="America/Bogota",
        address_en="-",
        address_es="-",
        max_party_size=4,
        verify_phone=False,  # the race for places, at "Confirm" (the SMS code step is not measured here)
    )
    contested.pathways.set(pathways)
    day = contested.local_today(now) + datetime.timedelta(days=3)
    for i in range(SLOTS):
        starts = datetime.datetime.combine(day, datetime.time(9 + i), tzinfo=contested.zone)
        Slot.objects.create(
            office=contested, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30), capacity=CAPACITY
        )
    browsing = Office.objects.create(
        name="Bench availability",
        slug="bench-availability",
        country="CO",
        city="Bogotá",
        time_zone="America/Bogota",
        address_en="-",
        address_es="-",
        slot_minutes=15,
    )
    browsing.pathways.set(pathways)
    for weekday in range(7):
        OpeningHours.objects.create(
            office=browsing, weekday=weekday, opens=datetime.time(8), closes=datetime.time(16), capacity=3
        )
    generate_slots(office=browsing, now=now)
    browse_day = browsing.local_today(now) + datetime.timedelta(days=3)
    screenings = [
        screening_reference(Screening.objects.create(version=version, answers={}, outcomes=outcomes, language="es"))
        for _ in range(CLIENTS + 1)
    ]
    connection.close()
    return contested, browsing, screenings, day, browse_day


def attempt(base: str, stats: Stats, *, reference: str, office: Office, day: datetime.date, n: int, go: Any) -> dict:
    browser = Browser(base, stats)
    go.wait()
    started = time.perf_counter()
    outcome = "failed"
    status, _, location = browser.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    if status == 302:
        browser.request(f"/es/book/office/{office.slug}/")
        status, page, location = browser.request(f"/es/book/office/{office.slug}/{day}/")
        offered = SLOT.findall(page) if status == 200 else []
        if not offered:
            outcome = "full"
        else:
            token = CSRF.search(page)[1]
            slot = offered[n % len(offered)]
            status, page, location = browser.request(
                f"/es/book/office/{office.slug}/{day}/", {"csrfmiddlewaretoken": token, "slot": slot}
            )
            if status == 302 and location.endswith("/book/details/"):
                _, page, _ = browser.request("/es/book/details/")
                details = {
                    "csrfmiddlewaretoken": CSRF.search(page)[1],
                    "full_name": f"Persona {n}",
                    "date_of_birth_0": "2",
                    "date_of_birth_1": "4",
                    "date_of_birth_2": "1988",
                    "nationality": "VE",
                    "document_type": "passport",
                    "document_number": f"BENCH{n:05d}",
                    "document_country": "VE",
                    "phone": f"300 1{n:06d}",  # one number per person (two appointments per number)
                    "language": "es",
                    "party_size": "1",
                    "consent": "on",
                }
                status, page, location = browser.request("/es/book/details/", details)
                _, page, _ = browser.request("/es/book/check/")
                status, page, location = browser.request(
                    "/es/book/check/", {"csrfmiddlewaretoken": CSRF.search(page)[1], "key": KEY.search(page)[1]}
                )
                outcome = "booked" if status == 302 and location.endswith("/manage/appointment/") else "failed"
            else:
                outcome = "full" if status in (302, 400) else "failed"
    return {"outcome": outcome, "seconds": time.perf_counter() - started}


def throughput(base: str, stats: Stats, paths: list[str], browser: Browser | None = None) -> float:
    """Requests per second for AVAILABILITY_REQUESTS GETs of the paths, AVAILABILITY_CONCURRENCY at a time."""
    visitor = browser or Browser(base, stats)

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
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(GUNICORN_WORKERS),
        # Every simulated client comes from 127.0.0.1: lift the per-IP limits on holds.
        "HOLD_RATE": "100000/m",
        "HOLD_LIVE_PER_ADDRESS": "100000",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "movilidad.wsgi",
            "--worker-class",
            "gthread",
            "--threads",
            str(GUNICORN_THREADS),
            "--access-logfile",
            "/dev/null",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/es/privacy/", timeout=2).read()  # noqa: S310 - loopback only
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
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

        visitor = Browser(base, stats)
        visitor.request("/es/book/?" + urllib.parse.urlencode({"screening": screenings[-1]}))
        time_page = f"/es/book/office/{browsing.slug}/{browse_day}/"
        if visitor.request(time_page)[0] != 200:
            raise RuntimeError("the time page did not answer 200")
        trivial_rps = throughput(base, stats, ["/es/privacy/"])
        time_rps = throughput(base, stats, [time_page], browser=visitor)
        trivial_rps_after = throughput(base, stats, ["/es/privacy/"])
        trivial = (trivial_rps + trivial_rps_after) / 2
        ratio = time_rps / trivial
    finally:
        server.terminate()
        server.wait(30)

    slots_at_office = Slot.objects.filter(office=browsing).count()
    times_on_day = sum(1 for slot in Slot.objects.filter(office=browsing) if slot.local_start().date() == browse_day)
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    passed = booked == SLOTS * CAPACITY and over == 0 and stats.server_errors == 0 and ratio >= 0.4
    report = f"""{START}
## Booking under load (`bench/bench_booking.py`)

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

Result: {"PASS" if passed else "FAIL"}.
{END}"""
    write_section(report, START, END)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
