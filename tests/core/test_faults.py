"""Faults survived, on servers of this test's own (the suite's shared PostgreSQL and Redis are
never touched): gunicorn serving the real site, a stream of bookings over HTTP while PostgreSQL is
stopped and started again, then Redis stopped.

- PostgreSQL gone: every request either completes or gets the "try again" page (503 with
  Retry-After, never a traceback); each person who tries again ends with exactly one booking.
- Redis gone: pages still work (the cache fails open, sessions are in the database); the rate
  limits that protect something scarce or secret (holds, lookups by date of birth) fail closed.
"""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scripts.with_services import Services, as_postgres, free_port, pg_bin_dir

BASE_DIR = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')
SLOT = re.compile(r'name="slot" value="(\d+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
PEOPLE = 16
SEED = """
import datetime, json
import django
django.setup()
from django.apps import apps
from django.utils import timezone
from appointments.models import Office, OpeningHours
from appointments.services.slots import generate_slots
from eligibility import seed
from eligibility.models import Pathway, ScreenerVersion, Screening
from eligibility.services import screening_reference

seed.load(apps)
version = ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)
pathways = list(Pathway.objects.all())
outcomes = {p.code: {"eligible": True, "reasons": {"en": [], "es": []}, "order": p.order} for p in pathways}
office = Office.objects.create(
    name="Faults", slug="faults", country="CO", city="Bogota", time_zone="America/Bogota",
    address_en="-", address_es="-", min_notice_hours=1, verify_phone=False,
)
office.pathways.set(pathways)
for weekday in range(7):
    OpeningHours.objects.create(
        office=office, weekday=weekday, opens=datetime.time(8), closes=datetime.time(16), capacity=20
    )
generate_slots(office=office, now=timezone.now())
day = office.local_today(timezone.now()) + datetime.timedelta(days=3)
references = [
    screening_reference(
        Screening.objects.create(version=version, host_country="CO", answers={}, outcomes=outcomes, language="es")
    )
    for _ in range(%(people)d)
]
print(json.dumps({"day": str(day), "references": references}))
"""

pytestmark = pytest.mark.skipif(not Path("/usr/lib/postgresql").exists(), reason="needs PostgreSQL binaries")


class Site:
    """gunicorn on its own PostgreSQL and Redis."""

    def __init__(self) -> None:
        self.services = Services(durable=True)
        self.services.start()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **self.services.environment(),
            "DJANGO_SETTINGS_MODULE": "movilidad.settings",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "HOLD_RATE": "100000/m",
            "HOLD_LIVE_PER_ADDRESS": "100000",  # every visitor here comes from one address
            "MANAGE_LOOKUP_RATE": "100000/m",
        }
        self.server: subprocess.Popen | None = None

    def manage(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [sys.executable, *args], cwd=BASE_DIR, env=self.env, input=stdin, capture_output=True, text=True, check=True
        ).stdout

    def serve(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "movilidad.wsgi", "--worker-class", "gthread", "--threads", "4",
             "--access-logfile", "/dev/null", "--log-level", "critical"],
            cwd=BASE_DIR,
            env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/es/privacy/", timeout=2).read()  # noqa: S310 - loopback only
                return
            except OSError:
                assert self.server.poll() is None, "gunicorn exited while starting"
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"

    def pg_ctl(self, *args: str) -> None:
        command = [str(pg_bin_dir() / "pg_ctl"), "-D", str(self.services.pg_data), "-w", *args]
        subprocess.run(as_postgres(command), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
        self.services.stop()


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Site, dict[str, Any]]]:
    running = Site()
    try:
        running.manage("manage.py", "migrate", "--verbosity", "0")
        seeded = json.loads(running.manage("-", stdin=SEED % {"people": PEOPLE}).strip().splitlines()[-1])
        running.serve()
        yield running, seeded
    finally:
        running.stop()


class Visitor:
    """One person's browser: cookies kept, redirects returned, every answer recorded."""

    def __init__(self, base: str, answers: list[tuple[int, str, str | None]]) -> None:
        self.base, self.answers = base, answers
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect
        )

    def once(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                status, text, location = response.status, response.read().decode(), ""
        except urllib.error.HTTPError as exc:
            status, text, location = exc.code, exc.read().decode(errors="replace"), exc.headers.get("Location", "")
            retry_after = exc.headers.get("Retry-After")
        else:
            retry_after = None
        self.answers.append((status, text, retry_after))
        return status, text, location

    def until_answered(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """What a person does on the "try again" page: send the same page again."""
        deadline = time.monotonic() + 90
        while True:
            answer = self.once(path, data)
            if answer[0] != 503:
                return answer
            assert time.monotonic() < deadline, f"{path} kept answering 503"
            time.sleep(0.2)  # a person's pause before sending again, not a wait for a condition


def main_text(page: str) -> str:
    """The words of a page's <main>, for an assertion's message."""
    main = page[page.find("<main") : page.find("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())[:400]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def book(base: str, reference: str, day: str, n: int, answers: list[tuple[int, str, str | None]]) -> str:
    """The whole booking journey over HTTP, each page sent again while it says "try again"."""
    person = Visitor(base, answers)
    person.until_answered("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    person.until_answered("/es/book/office/faults/")
    # A time chosen while the database was away may come back as the day's page again, asking to
    # choose a time (400): the person chooses again, as they would.
    for _attempt in range(5):
        _, page, _ = person.until_answered(f"/es/book/office/faults/{day}/")
        slots = SLOT.findall(page)
        assert slots, "the day has places"
        chosen = {"csrfmiddlewaretoken": CSRF.search(page)[1], "slot": slots[n % len(slots)]}
        status, page, location = person.until_answered(f"/es/book/office/faults/{day}/", chosen)
        if status == 302:
            break
        assert status == 400, status
        assert SLOT.findall(page), f"the page asks to choose a time again, not: {main_text(page)}"
    assert status == 302, status
    while not location.endswith("/book/details/"):
        _, page, location = person.until_answered(location.removeprefix(base))
        if 'name="party_size"' in page:
            status, _, location = person.until_answered(
                "/es/book/people/", {"csrfmiddlewaretoken": CSRF.search(page)[1], "party_size": "1"}
            )
    _, page, _ = person.until_answered("/es/book/details/")
    details = {
        **dict(HIDDEN.findall(page)),  # the token, the number of people
        "full_name": f"Persona Falla {n}",
        "date_of_birth_0": "2",
        "date_of_birth_1": "4",
        "date_of_birth_2": "1988",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": f"FAULT{n:04d}",
        "document_country": "VE",
        "phone": f"300 123 {n:04d}",  # one number per person (two appointments per number)
        "language": "es",
        "consent": "on",
    }
    person.until_answered("/es/book/details/", details)
    _, page, _ = person.until_answered("/es/book/check/")
    confirm = {"csrfmiddlewaretoken": CSRF.search(page)[1], "key": KEY.search(page)[1]}
    status, _, location = person.until_answered("/es/book/check/", confirm)
    return location if status == 302 else f"status {status}"


def appointments_by_document(site: Site) -> dict[str, int]:
    script = (
        "import django, json\ndjango.setup()\nfrom django.db.models import Count\n"
        "from appointments.models import Appointment\n"
        "rows = Appointment.objects.filter(document_number__startswith='FAULT').values('document_number')"
        ".annotate(n=Count('pk')).values_list('document_number', 'n')\n"
        "print(json.dumps(dict(rows)))\n"
    )
    return json.loads(site.manage("-", stdin=script).strip().splitlines()[-1])


def test_postgresql_restarted_in_the_middle_of_a_stream_of_bookings(site) -> None:
    running, seeded = site
    answers: list[tuple[int, str, str | None]] = []
    started = threading.Event()
    outcomes: list[str] = []

    def one(n: int) -> str:
        if n == PEOPLE // 4:
            started.set()
        return book(running.base, seeded["references"][n], seeded["day"], n, answers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(one, n) for n in range(PEOPLE)]
        assert started.wait(timeout=120)
        running.pg_ctl("-m", "immediate", "stop")
        # Down until requests have met it (each gets the "try again" page), then up again.
        deadline = time.monotonic() + 60
        while not any(status == 503 for status, _text, _retry in answers):
            assert time.monotonic() < deadline, "no request met the stopped database"
            time.sleep(0.05)
        running.pg_ctl("-l", str(running.services.tmp / "pg.log"), "restart")  # with the options it had
        outcomes = [future.result(timeout=300) for future in futures]

    statuses = {status for status, _text, _retry in answers}
    assert 503 in statuses
    # Pages, redirects, "try again", and the day's page asking to choose a time again.
    assert statuses <= {200, 302, 400, 503}, f"only pages, redirects and 'try again': {sorted(statuses)}"
    for status, text, retry_after in answers:
        assert "Traceback" not in text
        if status == 503:
            assert retry_after == "5", "a 503 says when to try again"
            assert "Traceback" not in text
            assert "intente de nuevo" in text.lower()
    assert all(outcome.endswith("/manage/appointment/") for outcome in outcomes), outcomes
    booked = appointments_by_document(running)
    assert booked == {f"FAULT{n:04d}": 1 for n in range(PEOPLE)}, "every booking once, none lost, none doubled"


def test_redis_stopped_pages_work_and_scarce_limits_fail_closed(site) -> None:
    running, seeded = site
    answers: list[tuple[int, str, str | None]] = []
    person = Visitor(running.base, answers)
    assert person.once("/es/")[0] == 200
    running.services.redis.terminate()
    running.services.redis.wait(timeout=10)
    # Pages work: the cache fails open and the sessions are in the database.
    for path in ("/es/", "/es/privacy/", "/es/questions/current_country/"):
        assert person.once(path)[0] in (200, 302), path
    status, _, _ = person.once("/es/book/?" + urllib.parse.urlencode({"screening": seeded["references"][-1]}))
    assert status == 302
    status, page, _ = person.once(f"/es/book/office/faults/{seeded['day']}/")
    assert status == 200
    assert SLOT.findall(page), "places are read from the database"
    # Holding a place is counted per address: without Redis, refused with "try again later".
    chosen = {"csrfmiddlewaretoken": CSRF.search(page)[1], "slot": SLOT.findall(page)[0]}
    status, page, _ = person.once(f"/es/book/office/faults/{seeded['day']}/", chosen)
    assert status == 429
    assert "Traceback" not in page
    # So is a lookup by reference and date of birth.
    _, page, _ = person.once("/es/manage/")
    lookup = {"csrfmiddlewaretoken": CSRF.search(page)[1], "reference": "ABCDEFGHJ", "date_of_birth_0": "1",
              "date_of_birth_1": "1", "date_of_birth_2": "1990"}  # fmt: skip
    assert person.once("/es/manage/", lookup)[0] == 429
    # The health check says what is down.
    status, text, _ = person.once("/healthz")
    assert status == 503
    assert {"cache", "broker"} <= set(json.loads(text)["failing"])
    assert json.loads(text)["checks"]["database"] == "up"
