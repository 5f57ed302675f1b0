"""Page weight of `make run`: what a first visit to each page of the public journey transfers.

Starts `make run` on a free port (the checkout's own demo: SQLite and files under var/, so stop
another `make run` of this checkout first), times how long it takes to answer, walks the public
journey over HTTP like a phone that accepts gzip and has nothing cached (tests/page_weight.py),
books one appointment in the demo, stops the server, and rewrites its section of
docs/benchmarks.md. Target: every page under 50 KB (50,000 bytes).

`python bench/bench_page_weight.py` runs it alone; it needs no database server. Extra arguments
go to make (`python bench/bench_page_weight.py -o .venv/.runtime-installed` keeps make from
reinstalling a shared virtualenv).
"""

import datetime
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import machine, write_section  # noqa: E402
from tests.page_weight import ACCEPT_ENCODING, LIMIT_BYTES, Fetched, Weight, weigh_journey  # noqa: E402

START, END = "<!-- bench:page-weight -->", "<!-- /bench:page-weight -->"
# What `make bench` (scripts/with_services.py) sets for the test servers: `make run` uses its own.
SERVICE_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "EMAIL_URL",
    "SITE_URL",
    "DEBUG",
    "HTTPS",
    "STATIC_MANIFEST",
    "CONN_MAX_AGE",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibHttp:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.started = time.time()
        self.forget()

    def forget(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def _open(self, path: str, data: bytes | None = None) -> Fetched:
        url = self.base_url + path  # our own server on loopback
        request = urllib.request.Request(url, data=data, headers={"Accept-Encoding": ACCEPT_ENCODING})  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as response:
                status, headers, wire = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, wire = error.code, error.headers, error.read()
        return Fetched(self.base_url + path, status, list(headers.items()), wire)

    def get(self, path: str) -> Fetched:
        return self._open(path)

    def post(self, path: str, data: dict[str, str]) -> Fetched:
        return self._open(path, urllib.parse.urlencode(data).encode())

    def phone_code(self, phone: str, timeout: float = 60) -> str:
        """The code in the newest SMS file `make run`'s worker writes to var/sms/ for `phone`."""
        folder, deadline = BASE_DIR / "var" / "sms", time.monotonic() + timeout
        while time.monotonic() < deadline:
            files = sorted(folder.glob("*.txt"), key=lambda path: path.stat().st_mtime, reverse=True)
            for path in files[:20]:
                text = path.read_text(encoding="utf-8")
                found = re.search(r"\b([0-9]{6})\b", text)
                if text.startswith(f"To: {phone}\n") and found and path.stat().st_mtime > self.started:
                    return found[1]
            time.sleep(0.25)
        sys.exit(f"no SMS with a code for {phone} in {folder} within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            sys.exit(f"make run stopped with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own server on loopback
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
    sys.exit(f"make run did not answer {url} within {timeout:.0f} s")


def main() -> int:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    server = subprocess.Popen(
        ["make", "--no-print-directory", *sys.argv[1:], "run", f"PORT={port}"],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Ctrl-C must reach run.sh's trap even when this benchmark was started with SIGINT ignored
        # (a background job of a script): bash cannot trap a signal ignored when it starts.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads yet
    )
    try:
        startup = wait_for(f"{base_url}/healthz", server, timeout=300)
        weights = weigh_journey(UrllibHttp(base_url), "es")
    finally:
        # Ctrl-C, as a person stops it: run.sh stops the web server, the worker and beat.
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    write_section(report(weights, startup), START, END)
    return 0 if all(weight.total < LIMIT_BYTES for weight in weights) else 1


def report(weights: list[Weight], startup: float) -> str:
    rows = "\n".join(
        f"| {w.name} (`{w.path}`) | {w.parts[w.path]:,} | {w.total - w.parts[w.path]:,} "
        f"({len(w.parts) - 1} files) | {w.total:,} |"
        for w in weights
    )
    heaviest = max(weights, key=lambda w: w.total)
    passed = all(weight.total < LIMIT_BYTES for weight in weights)
    return f"""{START}
## Page weight of `make run` (`bench/bench_page_weight.py`)

Command: `make bench` (or `python bench/bench_page_weight.py` alone): `make run` on a free port,
then the public journey in Spanish over HTTP, accepting gzip, with nothing cached, so each page
counts its stylesheets, scripts and icons again. Bytes as transferred: status line, headers and
body. Run on {datetime.datetime.now(datetime.UTC):%Y-%m-%d}; machine: {machine()}; `make run` answered after
{startup:.0f} s.

| Page | HTML | Linked files | Total |
| --- | --- | --- | --- |
{rows}

Heaviest: {heaviest.name}, {heaviest.total:,} bytes (target: under {LIMIT_BYTES:,} each). Before issue 10
(the whole of Bootstrap, served uncompressed by runserver, HTML not compressed) a page weighed
243,279 to 274,782 bytes.

Result: {"PASS" if passed else "FAIL"}.
{END}"""


if __name__ == "__main__":
    sys.exit(main())
