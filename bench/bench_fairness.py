"""Fairness under a bot, first come and lottery (issue 13), over HTTP against gunicorn on PostgreSQL
and Redis (run by `make bench`, on throwaway servers; `--scale` shrinks the whole scene).

The scene (at --scale 1): 10,000 applicants for 1,000 places (100 slots × 10 over 5 days) and a
bot with 100 times an applicant's request rate (100 loops that never stop while the window lasts,
rotating 50 client addresses), once with an office in first-come mode and once with an office in
lottery mode; both offices verify phones. `--scale` multiplies every count (applicants, places,
the bot's loops, phones and addresses) so the shares keep the same shape; the window's length does
not change.

Who is who:
- Each applicant has an own address (an `X-Real-IP` header, which gunicorn is told to trust with
  RATELIMIT_IP_META_KEY), an own phone and document, and an eligible screening written directly to
  the database: the screener is not what is measured here. They arrive uniformly over the window
  (a pool of client threads, so at a rush they queue as at a slow site) and make one attempt.
  First come: start → days → times → hold (another time, up to 3 tries, when it is taken) →
  people → details → check → confirm → the code from their SMS (the outbox row for their phone) →
  booked, or told the days are full. Lottery: start → lottery page → people → request → the code
  from their SMS → requested; after the draw they confirm the offer link sent to their phone.
- The bot controls real SIM cards (100 phones, one per loop: it reads their codes and offers and
  nothing else), invents documents freely and has one screening per loop (one hold per screening;
  the screener's own limit allows it 10 an hour per address). It skips pages it does not need.
  First come: each loop books again and again with its phone, polling the days when full. Lottery:
  one request per phone, then a flood of requests with made-up phone numbers and documents: their
  codes reach nobody, so none is made (before the lottery verified phones, they were, and took
  places in the order that it could not confirm).
- Lottery: the window is open while the applicants arrive (and the bot floods); then it is closed
  and the draw run in this process (allocation.lottery_services.run_draw); applicants and the bot
  confirm offers to their phones over HTTP; offers to phones nobody has expire: expire_offers runs
  with a `now` just past LOTTERY_CONFIRM_HOURS after the round before, again and again, until the
  places are booked or nobody more can be offered one (the order is exhausted, or the period's
  slots are too close for the time to confirm).

Fair share: places × the bot's identities (phones) / (applicants + the bot's identities). Goal: the
bot books at most twice its fair share. Only a random order among identities can meet it (the
report shows why no first-come rule can); first come is measured to show what the limits bound. The
places still held when the window closes are counted by whose phone their details carry.

The limits are given to gunicorn as in production (HOLD_LIVE_PER_ADDRESS, SCREENING_FINISH_RATE,
ACTIVE_APPOINTMENTS_PER_PHONE, SMS_PER_PHONE_PER_DAY, HOLD_RATE); a build without some of them
ignores those settings.

Rewrites its section of docs/benchmarks.md.
"""

import argparse
import datetime
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.browser import CSRF, KEY, SLOT, Browser, details_form
from bench.common import gunicorn, machine, setup_django, write_section

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.utils import timezone  # noqa: E402
from phonenumber_field.phonenumber import PhoneNumber  # noqa: E402

from allocation import lottery_services  # noqa: E402
from allocation.models.lottery import Draw, LotteryRequest  # noqa: E402
from appointments.models import Appointment, Hold, Office, Slot  # noqa: E402
from bench.data import eligible_references, make_office, prepare_database  # noqa: E402
from notifications.models import Notification  # noqa: E402

APPLICANTS, PLACES, BOT_LOOPS, BOT_ADDRESSES = 10_000, 1_000, 100, 50
CAPACITY, DAYS = 10, 5
WINDOW_SECONDS = 90
GUNICORN_WORKERS, GUNICORN_THREADS = 4, 8
HUMAN_THREADS = 200
LOTTERY_PERIOD_AFTER_DAYS = 10  # the period starts this many days after the draw: room for rounds of offers
RNG = random.Random(13)  # noqa: S311 - a simulation, not a secret
LIMITS = {
    "HOLD_LIVE_PER_ADDRESS": "4",
    "SCREENING_FINISH_RATE": "10/h",
    "ACTIVE_APPOINTMENTS_PER_PHONE": "2",
    "SMS_PER_PHONE_PER_DAY": "8",
    "HOLD_RATE": "30/m",
    "RATELIMIT_IP_META_KEY": "HTTP_X_REAL_IP",
}
START, END = "<!-- bench:fairness -->", "<!-- /bench:fairness -->"
HUMAN_PHONE, BOT_PHONE, FAKE_PHONE = 3_000_000_000, 3_010_000_000, 3_020_000_000  # Colombian mobiles 300, 301, 302
# The lottery's people and bot use other numbers than first come's (same prefixes): with the same
# SIM cards, the bot's first-come appointments would count against its lottery offers
# (ACTIVE_APPOINTMENTS_PER_PHONE) and the two modes would not be measured apart.
LOTTERY_PHONES = 5_000_000


def phone(base: int, n: int) -> str:
    return f"+57{base + n}"


def owner(e164: str) -> str:
    return {"+57300": "human", "+57301": "bot"}.get(e164[:6], "fake")


# ---------------------------------------------------------------------------------------------
# HTTP clients
# ---------------------------------------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: dict[str, dict[int, int]] = {"human": {}, "bot": {}}
        self.refused: dict[str, int] = {}  # "role status page" for each 4xx, to say what was refused
        self.said: dict[str, str] = {}  # the first message of each

    def count(self, role: str, status: int, path: str, page: str = "") -> None:
        with self.lock:
            self.status[role][status] = self.status[role].get(status, 0) + 1
            if 400 <= status < 500:
                page = re.sub(r"/lottery-offer/[^/]+/", "/lottery-offer/…/", re.sub(r"\?.*|\d{4}-\d\d-\d\d/", "", path))
                name = f"{role} {status} {page}"
                self.refused[name] = self.refused.get(name, 0) + 1
                title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
                self.said.setdefault(name, re.sub(r"\s+", " ", title[1]).strip()[:200] if title else "")

    def total(self, role: str) -> int:
        return sum(self.status[role].values())

    def of(self, role: str, status: int) -> int:
        return self.status[role].get(status, 0)

    def server_errors(self) -> int:
        return sum(n for role in self.status.values() for status, n in role.items() if status >= 500)


class Visitor(Browser):
    """One visitor of a role ("human" or "bot") from a client address (which the bot changes); every
    answer is counted in `stats`, and the last CSRF token seen kept."""

    def __init__(self, base: str, stats: Stats, role: str, address: str) -> None:
        super().__init__(base)
        self.stats, self.role, self.address = stats, role, address
        self.token = ""

    def headers(self) -> dict[str, str]:
        return {"X-Real-IP": self.address}

    def answered(self, path: str, status: int, text: str) -> None:
        self.stats.count(self.role, status, path, text)
        found = CSRF.search(text)
        if found:
            self.token = found[1]  # any form's token works for the session's CSRF cookie


# The SMS a person "receives": the outbox row for their phone (read with few connections at once).
INBOX = threading.BoundedSemaphore(8)


def latest_sms(e164: str, kind: str, after: int = 0) -> Notification | None:
    with INBOX:
        try:
            return Notification.objects.filter(kind=kind, recipient=e164, pk__gt=after).order_by("-pk").first()
        finally:
            connection.close()


# ---------------------------------------------------------------------------------------------
# The scene in the database
# ---------------------------------------------------------------------------------------------
@dataclass
class Scene:
    applicants: int
    places: int
    bot_loops: int
    bot_addresses: int
    window: float
    outcomes: dict[str, Any] = field(default_factory=dict)

    @property
    def fair_share(self) -> float:
        return self.places * self.bot_loops / (self.applicants + self.bot_loops)


def make_slots(office: Office, places: int, first_day: datetime.date) -> list[datetime.date]:
    slots = max(1, places // CAPACITY)
    per_day = -(-slots // DAYS)
    days = []
    for i in range(slots):
        day = first_day + datetime.timedelta(days=i // per_day)
        starts = datetime.datetime.combine(day, datetime.time(8), tzinfo=office.zone) + datetime.timedelta(
            minutes=20 * (i % per_day)
        )
        Slot.objects.create(
            office=office, starts_at=starts, ends_at=starts + datetime.timedelta(minutes=20), capacity=CAPACITY
        )
        if day not in days:
            days.append(day)
    return days


# ---------------------------------------------------------------------------------------------
# First come
# ---------------------------------------------------------------------------------------------
def fc_days(browser: Visitor, slug: str) -> list[str]:
    status, page, _ = browser.request(f"/es/book/office/{slug}/")
    return re.findall(rf'href="/es/book/office/{slug}/(\d{{4}}-\d{{2}}-\d{{2}})/"', page) if status == 200 else []


def fc_book(browser: Visitor, slug: str, days: list[str], *, n: int, who: str, e164: str, skip: bool) -> str:
    """Hold a time and book it with the code sent to `e164`: "booked", "full", "limited" or "failed"."""
    held = False
    for _attempt in range(3):
        if not days:
            return "full"
        day = RNG.choice(days)
        status, page, _ = browser.request(f"/es/book/office/{slug}/{day}/")
        offered = SLOT.findall(page) if status == 200 else []
        if not offered:
            days.remove(day)
            continue
        status, page, location = browser.request(
            f"/es/book/office/{slug}/{day}/",
            {"csrfmiddlewaretoken": CSRF.search(page)[1], "slot": RNG.choice(offered)},
        )
        if status == 429:
            return "limited"
        if status == 302 and location.endswith("/book/people/"):
            held = True
            break
    if not held:
        return "full"
    token = browser.token
    if not skip:
        _, page, _ = browser.request("/es/book/people/")
        token = CSRF.search(page)[1]
    browser.request("/es/book/people/", {"csrfmiddlewaretoken": token, "party_size": "1"})
    if not skip:
        _, page, _ = browser.request("/es/book/details/")
        token = CSRF.search(page)[1]
    status, _, location = browser.request(
        "/es/book/details/",
        details_form(token, name=f"Persona {who} {n}", document=f"C{who[0].upper()}{n:08d}", phone=e164),
    )
    if status != 302:
        return "failed"
    _, page, _ = browser.request("/es/book/check/")
    key = KEY.search(page)
    if key is None:
        return "failed"
    status, _, location = browser.request("/es/book/check/", {"csrfmiddlewaretoken": token, "key": key[1]})
    if status == 429:
        return "limited"
    if not (status == 302 and location.endswith("/book/phone/")):
        return "booked" if status == 302 and location.endswith("/manage/appointment/") else "failed"
    sms = latest_sms(e164, Notification.Kind.PHONE_CODE)
    if sms is None:
        return "failed"
    if not skip:
        browser.request("/es/book/phone/")
    for _press in range(3):
        status, _, location = browser.request(
            "/es/book/phone/", {"csrfmiddlewaretoken": token, "key": key[1], "code": sms.details["code"]}
        )
        if status != 429:
            break
        time.sleep(1)  # "many people are booking at this moment": press again, as the page asks
    if status == 429:
        return "limited"
    return "booked" if status == 302 and location.endswith("/manage/appointment/") else "failed"


def fc_human(base: str, stats: Stats, slug: str, reference: str, n: int) -> str:
    browser = Visitor(base, stats, "human", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
    status, _, _ = browser.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    if status != 302:
        return "failed"
    return fc_book(browser, slug, fc_days(browser, slug), n=n, who="human", e164=phone(HUMAN_PHONE, n), skip=False)


def bot_browser(base: str, stats: Stats, reference: str, loop: int, addresses: int) -> Visitor:
    browser = Visitor(base, stats, "bot", f"192.168.0.{loop % addresses + 1}")
    browser.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    return browser


def fc_bot(base: str, stats: Stats, slug: str, reference: str, *, loop: int, scene: Scene, stop: Any) -> None:
    browser = bot_browser(base, stats, reference, loop, scene.bot_addresses)
    tries = 0
    while not stop.is_set():
        tries += 1
        # Rotate addresses: each try from the next of the bot's addresses.
        browser.address = f"192.168.0.{(loop + tries) % scene.bot_addresses + 1}"
        days = fc_days(browser, slug)
        if not days:
            time.sleep(0.05)  # full: poll for a place given back
            continue
        fc_book(browser, slug, days, n=loop * 100_000 + tries, who="bot", e164=phone(BOT_PHONE, loop), skip=True)


# ---------------------------------------------------------------------------------------------
# Lottery
# ---------------------------------------------------------------------------------------------
def lot_request(browser: Visitor, slug: str, token: str, *, n: int, who: str, e164: str, reads_sms: bool) -> bool:
    status, _, location = browser.request(
        f"/es/lottery/{slug}/request/",
        # Documents differ between the modes: one active appointment per document across offices.
        details_form(token, name=f"Persona {who} {n}", document=f"L{who[0].upper()}{n:08d}", phone=e164),
    )
    if status == 302 and location.endswith("/code/") and reads_sms:
        # The office verifies phones: the request is made with the code sent to the number (read
        # from its outbox row). A made-up number's code reaches nobody: no request.
        sms = latest_sms(e164, Notification.Kind.PHONE_CODE)
        if sms is None:
            return False
        status, _, location = browser.request(
            f"/es/lottery/{slug}/code/", {"csrfmiddlewaretoken": token, "code": sms.details["code"]}
        )
    return status == 302 and location.endswith("/requested/")


def lot_human(base: str, stats: Stats, slug: str, reference: str, n: int) -> str:
    browser = Visitor(base, stats, "human", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
    status, _, _ = browser.request("/es/book/?" + urllib.parse.urlencode({"screening": reference}))
    if status != 302:
        return "failed"
    browser.request(f"/es/lottery/{slug}/")
    _, page, _ = browser.request(f"/es/lottery/{slug}/people/")
    if not CSRF.search(page):
        return "failed"
    browser.request(f"/es/lottery/{slug}/people/", {"csrfmiddlewaretoken": CSRF.search(page)[1], "party_size": "1"})
    _, page, _ = browser.request(f"/es/lottery/{slug}/request/")
    if not CSRF.search(page):
        return "failed"
    token = CSRF.search(page)[1]
    if not lot_request(
        browser, slug, token, n=n, who="human", e164=phone(HUMAN_PHONE + LOTTERY_PHONES, n), reads_sms=True
    ):
        return "failed"
    browser.request(f"/es/lottery/{slug}/requested/")
    return "requested"


def lot_bot(
    base: str, stats: Stats, slug: str, reference: str, *, loop: int, scene: Scene, stop: Any, fakes: list
) -> None:
    browser = bot_browser(base, stats, reference, loop, scene.bot_addresses)
    _, page, _ = browser.request(f"/es/lottery/{slug}/request/")
    token = CSRF.search(page)[1]
    lot_request(
        browser, slug, token, n=loop, who="bot", e164=phone(BOT_PHONE + LOTTERY_PHONES, loop), reads_sms=True
    )  # its real SIM
    tries = 0
    while not stop.is_set():
        tries += 1
        browser.address = f"192.168.0.{(loop + tries) % scene.bot_addresses + 1}"
        n = loop * 100_000 + tries
        fake = phone(FAKE_PHONE, n)
        if lot_request(browser, slug, token, n=n + 1_000_000, who="fake", e164=fake, reads_sms=False):
            fakes.append(n)


def confirm(base: str, stats: Stats, role: str, url: str, n: int) -> bool:
    browser = Visitor(base, stats, role, f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
    path = urllib.parse.urlsplit(url).path
    status, page, _ = browser.request(path)
    if status != 200 or not CSRF.search(page):
        return False
    for _press in range(3):
        status, _, _ = browser.request(path, {"csrfmiddlewaretoken": CSRF.search(page)[1]})
        if status != 429:
            break
        time.sleep(1)  # busy: press again, as the page asks
    return status == 302


def lottery_rounds(base: str, stats: Stats, office: Office, draw: Draw) -> dict[str, Any]:
    """Close the window, draw, and let people confirm offers to phones they hold; offers nobody can
    confirm expire, round after round (each a confirm time later)."""
    now = timezone.now()
    Draw.objects.filter(pk=draw.pk).update(closes_at=now)
    lottery_services.run_draw(draw_id=draw.pk, now=now)
    rounds, last_sms, confirmed = 0, 0, {"human": 0, "bot": 0}
    while True:
        rounds += 1
        offers = list(
            Notification.objects.filter(office=office, kind=Notification.Kind.LOTTERY, pk__gt=last_sms)
            .filter(details__event__in=["won", "passed_down"])
            .values_list("pk", "recipient", "details")
        )
        last_sms = max([last_sms, *(pk for pk, _, _ in offers)])
        mine = [(owner(to), d["url"], i) for i, (_, to, d) in enumerate(offers) if owner(to) != "fake"]
        with ThreadPoolExecutor(16) as pool:
            for role, ok in zip([m[0] for m in mine], pool.map(lambda m: confirm(base, stats, *m), mine), strict=True):
                confirmed[role] += ok
        connection.close()
        now += datetime.timedelta(hours=settings.LOTTERY_CONFIRM_HOURS, minutes=1)
        waiting = LotteryRequest.objects.filter(draw=draw, status=LotteryRequest.Status.OFFERED).count()
        if not waiting:
            break
        lottery_services.expire_offers(now=now)
        if not LotteryRequest.objects.filter(draw=draw, status=LotteryRequest.Status.OFFERED).exists():
            break  # nobody more could be offered a place (order exhausted, or slots too close)
    counts = dict(
        LotteryRequest.objects.filter(draw=draw)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {"rounds": rounds, "confirmed": confirmed, "request_status": counts}


# ---------------------------------------------------------------------------------------------
# One mode
# ---------------------------------------------------------------------------------------------
def run_mode(base: str, mode: str, scene: Scene) -> dict[str, Any]:
    slug = f"bench-{mode}"
    lottery = mode == "lottery"
    office = make_office(
        slug,
        f"Bench {slug}",
        address="-",
        max_party_size=4,
        verify_phone=True,
        allocation=Office.Allocation.LOTTERY if lottery else Office.Allocation.FIRST_COME,
    )
    ahead = LOTTERY_PERIOD_AFTER_DAYS if lottery else 3
    first_day = office.local_today(timezone.now()) + datetime.timedelta(days=ahead)
    make_slots(office, scene.places, first_day)
    draw = None
    if lottery:
        now = timezone.now()
        draw = Draw.objects.create(
            office=office,
            opens_at=now - datetime.timedelta(minutes=1),
            closes_at=now + datetime.timedelta(days=1),
            period_start=first_day,
            period_end=first_day + datetime.timedelta(days=DAYS - 1),
        )
        lottery_services.open_draw(draw_id=draw.pk, now=now)
    humans = eligible_references(scene.applicants)
    bots = eligible_references(scene.bot_loops)
    connection.close()

    stop = threading.Event()
    try:
        return crowd(base, mode, scene=scene, office=office, draw=draw, humans=humans, bots=bots, stop=stop)
    finally:
        stop.set()  # whatever happens, the bot's loops end


def crowd(
    base: str,
    mode: str,
    *,
    scene: Scene,
    office: Office,
    draw: Draw | None,
    humans: list[str],
    bots: list[str],
    stop: threading.Event,
) -> dict[str, Any]:
    """The applicants and the bot at the office, and what came of it."""
    slug, lottery = office.slug, draw is not None
    stats, fakes = Stats(), []
    started = time.perf_counter()
    arrivals = sorted(RNG.uniform(0, scene.window) for _ in range(scene.applicants))
    bot_threads = [
        threading.Thread(
            target=lot_bot if lottery else fc_bot,
            args=(base, stats, slug, bots[i]),
            kwargs={"loop": i, "scene": scene, "stop": stop, **({"fakes": fakes} if lottery else {})},
            daemon=True,
        )
        for i in range(scene.bot_loops)
    ]
    for thread in bot_threads:
        thread.start()
    human = lot_human if lottery else fc_human
    results: list[Any] = []
    with ThreadPoolExecutor(max(20, round(HUMAN_THREADS * min(1.0, scene.applicants / APPLICANTS * 2)))) as pool:
        for n, at in enumerate(arrivals):
            delay = started + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            results.append(pool.submit(human, base, stats, slug, humans[n], n))
        outcomes = [r.result() for r in results]
    stop.set()
    for thread in bot_threads:
        thread.join(120)
    window = time.perf_counter() - started
    held = held_at_close(office)
    rounds = lottery_rounds(base, stats, office, draw) if lottery else {}
    elapsed = time.perf_counter() - started

    booked = Appointment.objects.filter(office=office, status="booked")
    by = {"human": 0, "bot": 0, "fake": 0}
    for number in booked.values_list("phone", flat=True):
        by[owner(number.as_e164)] += 1
    over = sum(
        max(0, n - capacity)
        for n, capacity in Slot.objects.filter(office=office)
        .annotate(n=Count("appointments", filter=Q(appointments__status="booked")))
        .values_list("n", "capacity")
    )
    places = Slot.objects.filter(office=office).count() * CAPACITY
    share = by["bot"] / places
    fair = scene.bot_loops / (scene.applicants + scene.bot_loops)
    connection.close()
    return {
        "mode": mode,
        "places": places,
        "by": by,
        "unbooked": places - sum(by.values()),
        "share": share,
        "fair": fair,
        "ratio": share / fair,
        "over": over,
        "errors": stats.server_errors(),
        "human_requests": stats.total("human"),
        "bot_requests": stats.total("bot"),
        "human_429": stats.of("human", 429),
        "bot_429": stats.of("bot", 429),
        "outcomes": {name: outcomes.count(name) for name in sorted(set(outcomes))},
        "fakes": len(fakes),
        "held": held,
        "window": window,
        "elapsed": elapsed,
        "statuses": stats.status,
        "refused": stats.refused,
        "said": stats.said,
        **rounds,
        "passed": share <= 2 * fair and over == 0 and stats.server_errors() == 0,
    }


def held_at_close(office: Office) -> dict[str, int]:
    """Places still held (not booked) when the window closed, by whose phone the hold's details
    carry ("none": no details typed yet)."""
    held = {"human": 0, "bot": 0, "fake": 0, "none": 0}
    live = Hold.objects.filter(slot__office=office, expires_at__gt=timezone.now())
    for details in live.values_list("details", flat=True):
        phone = (details or {}).get("phone")
        held[owner(PhoneNumber.from_string(phone).as_e164) if phone else "none"] += 1
    connection.close()
    return held


def _unbooked(result: dict[str, Any]) -> str:
    held = result["held"]
    if not result["unbooked"]:
        return ""
    return (
        f"Not booked: {result['unbooked']} places. When the window closed, {sum(held.values())} were held: "
        f"{held['bot']} by the bot's loops, {held['human']} by applicants, {held['fake']} with made-up numbers, "
        f"{held['none']} before any details. "
        "A loop whose phone is at its cap is refused at Confirm and keeps its hold (for a person to type "
        "another number) until it runs out, so each such loop sits on one place; a bot could as well hold "
        "and never confirm, as a hold asks for no phone: one live hold per screening and HOLD_LIVE_PER_ADDRESS "
        "bound it. The places go back when the holds run out, to the waitlist first.\n"
    )


def row(result: dict[str, Any]) -> str:
    r = result
    return (
        f"| {r['mode']} | {r['places']} | {r['by']['human']} | {r['by']['bot']} | {r['unbooked']} | "
        f"{r['share']:.2%} | {r['fair']:.2%} | {r['ratio']:.1f}× | {r['over']} | {r['errors']} | "
        f"{r['human_429']} / {r['bot_429']} | {r['human_requests']:,} / {r['bot_requests']:,} | "
        f"{r['elapsed']:.0f} s | {'PASS' if r['passed'] else 'FAIL'} |"
    )


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # gunicorn is stopped on the way out
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply applicants, places and the bot (1 = 10,000)")
    parser.add_argument("--window", type=float, default=WINDOW_SECONDS, help="seconds over which applicants arrive")
    parser.add_argument("--modes", default="first_come,lottery")
    args = parser.parse_args()
    scene = Scene(
        applicants=max(10, round(APPLICANTS * args.scale)),
        places=max(CAPACITY, round(PLACES * args.scale)),
        bot_loops=max(1, round(BOT_LOOPS * args.scale)),
        bot_addresses=max(1, round(BOT_ADDRESSES * args.scale)),
        window=args.window,
    )
    prepare_database()
    connection.close()
    port = int(os.environ.get("BENCH_PORT", "8766"))
    results = []
    with gunicorn(
        port,
        ready="/es/privacy/",
        threads=GUNICORN_THREADS,
        **LIMITS,
        WEB_CONCURRENCY=str(GUNICORN_WORKERS),
        LOG_LEVEL="WARNING",
    ) as base:
        for mode in args.modes.split(","):
            results.append(run_mode(base, mode, scene))
            print(results[-1], flush=True)
    lottery = next((r for r in results if r["mode"] == "lottery"), None)
    command = "make bench" if args.scale == 1 else f"python bench/bench_fairness.py --scale {args.scale:g}"
    limits = ", ".join(f"{k}={v}" for k, v in LIMITS.items())
    identities = scene.applicants + scene.bot_loops
    header = (
        "| Mode | Places | Booked by applicants | Booked by the bot | Not booked | Bot's share | Fair share "
        "| Ratio (goal ≤ 2×) | Overbooked | 5xx | 429s applicants / bot | Requests applicants / bot "
        "| Duration | Result |\n" + "| --- " * 14 + "|"
    )
    outcomes = "; ".join(f"{r['mode']}: " + ", ".join(f"{k} {v:,}" for k, v in r["outcomes"].items()) for r in results)
    refused = "; ".join(
        f"{r['mode']}: " + (", ".join(f"{k} × {v:,}" for k, v in sorted(r["refused"].items())) or "none")
        for r in results
    )
    said = "".join(f"\n- {r['mode']}, {k}: “{v}”" for r in results for k, v in sorted(r["said"].items()) if v)
    said = f"\nWhat the refusals said (the page's title):{said}\n" if said else ""
    report = f"""{START}
## Fairness against a bot (`bench/bench_fairness.py`)

Command: `{command}` (throwaway PostgreSQL and Redis; gunicorn with {GUNICORN_WORKERS} workers ×
{GUNICORN_THREADS} threads on 127.0.0.1, started with {limits}). Run on {timezone.now():%Y-%m-%d};
machine: {machine()}.

Scale {args.scale:g}: {scene.applicants:,} applicants (own address, phone, document and eligible
screening each; they arrive over {scene.window:.0f} s and make one attempt) for {scene.places:,} places
({scene.places // CAPACITY} slots × {CAPACITY} over {DAYS} days), and a bot with {scene.bot_loops} loops
that never stop while requests are taken (1% of the applicants, as 100 loops against 10,000, each
loop as fast as an applicant: 100 times an applicant's request rate at scale 1), rotating
{scene.bot_addresses} addresses, inventing documents, holding {scene.bot_loops} real phones (it reads
their codes and offers) and in lottery mode flooding requests with made-up phone numbers. Both
offices verify phones. The bot's fair share is its identities' share: {scene.bot_loops} / {identities:,}
= {scene.bot_loops / identities:.2%} of the places ({scene.fair_share:.1f}); goal: at most twice that.
The script's docstring describes each journey.

{header}
{chr(10).join(row(r) for r in results)}

Applicants' outcomes: {outcomes}.

Refusals (4xx) by who and page: {refused}.
{said}"""
    if lottery:
        statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(lottery["request_status"].items()))
        rounds = "round" if lottery["rounds"] == 1 else "rounds"
        report += f"""
Lottery: {lottery["fakes"]:,} requests with made-up phone numbers were taken from the bot during the
window; {lottery["rounds"]} {rounds} of offers (each {settings.LOTTERY_CONFIRM_HOURS} hours after the one
before, as offers expire; the period starts {LOTTERY_PERIOD_AFTER_DAYS} days after the draw); offers
confirmed over HTTP: {lottery["confirmed"]["human"]} by applicants, {lottery["confirmed"]["bot"]} by the
bot; requests at the end: {statuses}. Places not booked: {lottery["unbooked"]} (after the last round
no request left in the order could be offered a slot far enough ahead to confirm in time).
"""
    first_come = next((r for r in results if r["mode"] == "first_come"), None)
    if first_come:
        per_phone = first_come["by"]["bot"] / scene.bot_loops
        report += f"""
First come: the bot's {scene.bot_loops} phones booked {per_phone:.1f} places each
(ACTIVE_APPOINTMENTS_PER_PHONE is 2). No first-come rule can bring a bot to twice its share, so
the goal is the lottery's. A bot at the release with k phones, each able to book even one place,
takes k places before the applicants who arrive after it: identities / places =
{identities / scene.places:.1f} times its fair share whatever k is, and the cap of 2 (a parent
booking for two adults) doubles that. Limits per address and per phone bound it (with the
verified phone it cannot invent identities: {first_come["by"]["bot"]} places, not the whole
office), but only a random order among identities beats it: the lottery, the mode for an office
whose places are scarce.
{_unbooked(first_come)}"""
    report += f"\n{END}"
    write_section(report, START, END)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
