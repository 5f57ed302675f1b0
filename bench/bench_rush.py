"""Pages that hold a rush (run by `make bench`, on throwaway PostgreSQL and Redis).

gunicorn serves the site as in production (gunicorn.conf.py: WEB_CONCURRENCY workers of
GUNICORN_THREADS threads) on 127.0.0.1, with the benchmark's own URL configuration (bench/rush_urls.py: the project's
URLs plus a bare `HttpResponse("ok")` view). `wrk` (8 connections, loopback) measures, in the same
run, the bare view and the pages everyone hits at a release: the screener's start button as a new
visitor and with a session, the first question, the following questions and the time page of a
person with a booking session (made by the real journey: the signed link from a result page).
Each page passes at 40% or more of the bare view's requests per second. For each page the
benchmark also checks that GETs write no session (no row created, none saved again).

Rewrites its section of docs/benchmarks.md.
"""

import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser import CSRF, Browser, NoRedirect
from bench.common import gunicorn, machine, setup_django, write_result

setup_django()

from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from appointments.models import Office  # noqa: E402
from appointments.services.slots import generate_slots  # noqa: E402
from bench.data import eligible_references, make_office, open_every_day, prepare_database  # noqa: E402

CONNECTIONS, THREADS = 8, 2
SECONDS = int(os.environ.get("BENCH_RUSH_SECONDS", "12"))
# Turns of bare view then page: each turn gives a ratio, and the page's ratio is their median, so
# that a few seconds of another process on this shared machine (one turn) do not decide it.
ROUNDS = 6
TARGET = 0.4
# What a phone's browser sends with every request.
HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept-Language": "es-419,es;q=0.9", "User-Agent": "bench-rush"}
# One path through the questions (someone living in Costa Rica, from Nicaragua), up to the last one.
ANSWERS: dict[str, dict[str, str]] = {
    "current_country": {"answer": "CR"},
    "nationality": {"answer": "NI"},
    "date_of_birth": {"answer_0": "2", "answer_1": "4", "answer_2": "1988"},
    "arrival_date": {"answer_0": "15", "answer_1": "4", "answer_2": "2022"},
    "legal_status": {"answer": "asylum_seeker"},
    "fear_of_persecution": {"answer": "yes"},
    "us_relative": {"answer": "citizen"},
    "i130_filed": {"answer": "yes"},
    "i130_approved": {"answer": "yes"},
    "job_offer": {"answer": "no"},
}
LAST_QUESTION = "job_offer"


class Visitor(Browser):
    """One phone's browser (its headers, except that it does not ask for gzip)."""

    timeout = 60

    def headers(self) -> dict[str, str]:
        return {key: value for key, value in HEADERS.items() if key != "Accept-Encoding"}

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)

    def session_key(self) -> str:
        return next((cookie.value for cookie in self.jar if cookie.name == "sessionid"), "")


@dataclass
class Page:
    name: str
    paths: list[str]
    cookie: str = ""
    session_key: str = ""
    expect: int = 200
    target: bool = True
    rps: float = 0.0
    bare_rps: float = 0.0
    ratios: list[float] = field(default_factory=list)
    errors: int = 0
    sessions_created: int = 0
    session_saved: bool = False
    statuses: str = ""


def setup() -> tuple[Office, datetime.date, str]:
    prepare_database()
    now = timezone.now()
    office = make_office(
        "bench-rush",
        "Bench rush",
        address="-",
        country="CR",
        city="San José",
        time_zone="America/Costa_Rica",
        slot_minutes=15,
    )
    open_every_day(office, opens=8, closes=16, capacity=3)
    generate_slots(office=office, now=now)
    day = office.local_today(now) + datetime.timedelta(days=3)
    [reference] = eligible_references(1)
    connection.close()
    return office, day, reference


def wrk(base: str, page: Page, seconds: float) -> tuple[float, int]:
    """Requests per second and bad answers (socket errors, non-2xx/3xx) for GETs of the page's paths in turn."""
    folder = Path(tempfile.mkdtemp(prefix="bench-rush-"))
    try:
        script = folder / "paths.lua"
        quoted = ", ".join(f'"{path}"' for path in page.paths)
        script.write_text(
            f"local paths = {{{quoted}}}\nlocal i = 0\n"
            "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
        )
        headers = {**HEADERS, **({"Cookie": page.cookie} if page.cookie else {})}
        command = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:.0f}s", "-s", str(script)]
        for key, value in headers.items():
            command += ["-H", f"{key}: {value}"]
        output = subprocess.run([*command, base], check=True, capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return rps, bad + (sum(int(n) for n in socket.groups()) if socket else 0)


def check(base: str, page: Page) -> None:
    """What each path answers this visitor, before it is measured (a page answering anything but
    what it should fails)."""
    seen = set()
    for path in page.paths:
        request = urllib.request.Request(base + path, headers={**HEADERS, "Cookie": page.cookie})  # noqa: S310
        request.headers.pop("Accept-encoding", None)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                seen.add(response.status)
        except urllib.error.HTTPError as exc:
            seen.add(exc.code)
    page.statuses = ", ".join(str(status) for status in sorted(seen))


def measure(base: str, page: Page, bare: Page) -> None:
    """The page and the bare view in turn, ROUNDS times each (SECONDS in all for each), so both
    see the same load on a shared machine, and the ratio of each turn; the session rows the
    page's GETs wrote."""
    check(base, page)
    before = Session.objects.count()
    expiry = Session.objects.filter(session_key=page.session_key).values_list("expire_date", flat=True).first()
    page_rps, bare_rps = [], []
    for _round in range(ROUNDS):
        rps, errors = wrk(base, bare, max(1, SECONDS / ROUNDS))
        bare_rps.append(rps)
        bare.errors += errors
        rps, errors = wrk(base, page, max(1, SECONDS / ROUNDS))
        page_rps.append(rps)
        page.errors += errors
        page.ratios.append(page_rps[-1] / bare_rps[-1])
    page.rps, page.bare_rps = sum(page_rps) / ROUNDS, sum(bare_rps) / ROUNDS
    page.sessions_created = Session.objects.count() - before
    if page.session_key:
        page.session_saved = (
            Session.objects.filter(session_key=page.session_key).values_list("expire_date", flat=True).first() != expiry
        )
    connection.close()


def answer(visitor: Visitor, location: str, until: str) -> list[str]:
    """Answer the questions from `location` (a question's address) up to the question `until`,
    through the pages; the questions' paths."""
    questions: list[str] = []
    while True:
        path = urllib.parse.urlsplit(location).path
        key = path.rstrip("/").rsplit("/", 1)[-1]
        questions.append(path)
        if key == until:
            return questions
        status, page, _location = visitor.request(path)
        if status != 200 or key not in ANSWERS:
            raise RuntimeError(f"question {key} answered {status}")
        status, _page, location = visitor.request(path, {"csrfmiddlewaretoken": CSRF.search(page)[1], **ANSWERS[key]})
        if status != 302:
            raise RuntimeError(f"answering {key} answered {status}")


def journeys(base: str, office: Office, day: datetime.date, reference: str) -> dict[str, Any]:
    """Visitors made by the real pages: one that answered the first question, one that answered
    every question but the last, one that answered every question (on the summary of answers),
    one that finished (its result page), one with a booking session from the signed link of a
    result page."""
    first = Visitor(base)
    status, _page, location = first.request("/es/questions/")
    if status != 302:
        raise RuntimeError(f"the start button answered {status}")
    answer(first, location, "nationality")
    answering = Visitor(base)
    questions = answer(answering, location, LAST_QUESTION)
    if not first.session_key() or not answering.session_key():
        raise RuntimeError("answering made no session")
    checking = Visitor(base)
    answer(checking, location, "check")
    finished = Visitor(base)
    answer(finished, location, "check")
    status, page, _location = finished.request("/es/questions/check/")
    status, _page, done = finished.request("/es/questions/check/", {"csrfmiddlewaretoken": CSRF.search(page)[1]})
    if status != 302 or not done.endswith("/es/questions/result/") or finished.request(done)[0] != 200:
        raise RuntimeError(f"finishing answered {status}")
    booking = Visitor(base)
    booking.request("/es/privacy/")  # a CSRF cookie, as a browser that came through the pages has
    status, _page, _location = booking.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    time_page = f"/es/book/office/{office.slug}/{day}/"
    if status != 302 or booking.request(time_page)[0] != 200:
        raise RuntimeError("the booking session could not be made")
    return {
        "first": first,
        "answering": answering,
        "questions": questions,
        "checking": checking,
        "finished": finished,
        "booking": booking,
    }


def main() -> int:
    office, day, reference = setup()
    port = int(os.environ.get("BENCH_PORT", "8766"))
    workers = os.environ.get("WEB_CONCURRENCY", "3")
    threads = os.environ.get("GUNICORN_THREADS", "4")
    # As in production: connections kept between requests (the test environment closes them).
    with gunicorn(
        port, ready="/bench/ok/", quiet=True, DJANGO_SETTINGS_MODULE="bench.rush_settings", CONN_MAX_AGE="60"
    ) as base:
        made = journeys(base, office, day, reference)
        first, answering, booking = made["first"], made["answering"], made["booking"]
        questions = made["questions"]
        time_page = f"/es/book/office/{office.slug}/{day}/"
        bare = Page("Bare view", ["/bench/ok/"], target=False)
        pages = [
            Page("Start button (`/es/questions/`), new visitor, no cookie", ["/es/questions/"], expect=302),
            Page(
                "Start button (`/es/questions/`), with a session",
                ["/es/questions/"],
                cookie=first.cookie_header(),
                session_key=first.session_key(),
                expect=302,
            ),
            Page("First question (`/es/questions/current_country/`), new visitor, no cookie", [questions[0]]),
            Page(
                "First question, with a session",
                [questions[0]],
                cookie=first.cookie_header(),
                session_key=first.session_key(),
            ),
            Page(
                f"Following questions ({len(questions) - 1} pages in turn), with a session",
                questions[1:],
                cookie=answering.cookie_header(),
                session_key=answering.session_key(),
            ),
            Page(
                "Summary of the answers (`/es/questions/check/`), with a session",
                ["/es/questions/check/"],
                cookie=made["checking"].cookie_header(),
                session_key=made["checking"].session_key(),
            ),
            Page(
                "Result page (`/es/questions/result/`), with a session",
                ["/es/questions/result/"],
                cookie=made["finished"].cookie_header(),
                session_key=made["finished"].session_key(),
            ),
            Page(
                "Time page (the day's times), with a booking session",
                [time_page],
                cookie=booking.cookie_header(),
                session_key=booking.session_key(),
            ),
            Page("Service start page (`/es/`), no cookie", ["/es/"], target=False),
        ]
        # Every worker loads its templates and caches once before anything is timed.
        for page in [bare, *pages]:
            check(base, page)
            wrk(base, page, 1)
        for page in pages:
            measure(base, page, bare)
            print(
                f"{page.name}: {page.rps:.0f} requests/s, bare view {page.bare_rps:.0f}, "
                f"turns {' '.join(f'{ratio:.0%}' for ratio in page.ratios)}",
                flush=True,
            )

    rows = []
    passed = bare.errors == 0
    for page in pages:
        ratio = statistics.median(page.ratios)
        ok = (
            ratio >= TARGET
            and page.errors == 0
            and page.statuses == str(page.expect)
            and page.sessions_created == 0
            and not page.session_saved
        )
        if page.target:
            passed = passed and ok
        writes = f"{page.sessions_created} created" + (", saved again" if page.session_saved else "")
        verdict = ("PASS" if ok else "FAIL") if page.target else "(not a target)"
        rows.append(
            f"| {page.name} | {page.statuses} | {page.rps:,.0f} | {page.bare_rps:,.0f} | {ratio:.0%} "
            f"| {min(page.ratios):.0%}–{max(page.ratios):.0%} | {page.rps / page.bare_rps:.0%} | {page.errors} "
            f"| {writes} | {verdict} |"
        )
    table = "\n".join(rows)
    header = (
        "| Page | Answer | Requests/s (mean) | Bare view alongside (mean) | Ratio (median of turns) | Turns' ratios "
        f"| Ratio of the means | Bad answers | Session rows written | ≥ {TARGET:.0%} (median) |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    text = f"""## Pages that hold a rush (`bench/bench_rush.py`)

Command: `make bench` (or `python bench/bench_rush.py` inside `scripts/with_services.py`):
throwaway PostgreSQL 15 and Redis; `gunicorn movilidad.wsgi` with gunicorn.conf.py ({workers} workers ×
{threads} threads, as in production) on 127.0.0.1, its URL configuration the project's plus a bare
`HttpResponse("ok")` view (bench/rush_urls.py, the benchmark's only); `wrk` with {CONNECTIONS}
connections, each page measured for {SECONDS} s in {ROUNDS} turns with the bare view before each (as long
again), so both see the same load; a page's ratio is the median of its turns' ratios (page against
the bare view just before it), with the lowest and highest, and the ratio of the means (the rule of
runs before 2026-12-01) beside it; each request with a
phone browser's headers (`Accept-Encoding: gzip`, Spanish). Visitors with a session were made by the
real pages: one answered the first question, one answered every question but the last ({len(questions)} questions
on that path), one answered every question (the summary), one finished (the result), one opened the
booking link of an eligible result. Run on {timezone.now():%Y-%m-%d};
machine: {machine()}.

{header}
{table}

Bare view errors: {bare.errors}.
"""
    return write_result("rush", text, passed=passed)


if __name__ == "__main__":
    sys.exit(main())
