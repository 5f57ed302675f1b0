"""What every benchmark needs: Django set up, a line about the machine, its own section of
docs/benchmarks.md rewritten between its markers, and the servers it measures started and
stopped (a Celery worker, with the messages it sends through the file backends read back;
gunicorn).

Nothing here imports a model: a benchmark imports this module, calls setup_django(), and only then
imports models (and bench/data.py, which does).
"""

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "docs" / "benchmarks.md"
TO = re.compile(r"^To: (.+)$", re.MULTILINE)


def setup_django() -> None:
    """Set Django up with the project's settings (unless DJANGO_SETTINGS_MODULE names others);
    models can be imported after this."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movilidad.settings")
    django.setup()


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kb = int(
        next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    )
    return f"{os.cpu_count()} × {cpu}, {memory_kb / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}"


def write_section(report: str, start: str, end: str) -> None:
    """Put `report` (which begins with `start` and ends with `end`) in place of the section
    between those markers, or at the end of the file the first time; print it too."""
    text = RESULTS.read_text(encoding="utf-8")
    if start in text:
        text = text[: text.index(start)] + report + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + report + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(report)


def write_result(name: str, text: str, *, passed: bool) -> int:
    """Write `text` and the verdict ("Result: PASS." or "Result: FAIL.") as the section `name` of
    docs/benchmarks.md (between `<!-- bench:name -->` and `<!-- /bench:name -->`); the exit status."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    write_section(f"{start}\n{text}\nResult: {'PASS' if passed else 'FAIL'}.\n{end}", start, end)
    return 0 if passed else 1


@contextmanager
def celery_worker(**env: str) -> Iterator[subprocess.Popen]:
    """One Celery worker (solo pool, the project's settings) with `env` added to this process's
    environment; stopped on the way out."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "movilidad", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR, env={**os.environ, **env},
    )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(60)


def wait_while(busy: Callable[[], bool], worker: subprocess.Popen, *, pause: float, limit: float = 1800) -> None:
    """Return once `busy()` is false, or after `limit` seconds; raise if the worker stops first."""
    started = time.perf_counter()
    while busy():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with status {worker.returncode}")
        if time.perf_counter() - started > limit:
            break
        time.sleep(pause)


class FileBackends:
    """A new folder for what a worker sends through the file backends: `settings` send it there
    (add them to the worker's environment), the other methods read it back."""

    def __init__(self, prefix: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.sms_dir, self.mail_dir = folder / "sms", folder / "mail"
        self.mail_dir.mkdir(parents=True)
        self.settings = {
            "SMS_BACKEND": "notifications.sms.FileBackend",
            "SMS_FILE_PATH": str(self.sms_dir),
            "EMAIL_URL": f"file://{self.mail_dir}",
            "SITE_URL": "https://citas.example.org",
        }

    def sms(self) -> list[str]:
        """The text of every SMS written (a file each, beginning with its `To:` line)."""
        return [path.read_text(encoding="utf-8") for path in self.sms_dir.glob("*.txt")]

    def sms_recipients(self) -> Counter[str]:
        """How many SMS were written to each number."""
        return Counter(TO.search(text)[1] for text in self.sms())

    def mail_recipients(self) -> Counter[str]:
        """How many e-mails were written to each address."""
        return Counter(
            match for path in self.mail_dir.glob("*.log") for match in TO.findall(path.read_text(encoding="utf-8"))
        )


@contextmanager
def gunicorn(port: int, *, ready: str, threads: int = 0, quiet: bool = False, **env: str) -> Iterator[str]:
    """`gunicorn movilidad.wsgi` on 127.0.0.1:`port` with `env` added to this process's environment,
    from the moment it answers the path `ready` until the way out; yields its base URL.

    `threads`: gthread workers of that many threads, with no access log and warnings only (0: as
    gunicorn.conf.py says). `quiet`: its standard output discarded."""
    base = f"http://127.0.0.1:{port}"
    options = ["--worker-class", "gthread", "--threads", str(threads), "--access-logfile", "/dev/null",
               "--log-level", "warning"] if threads else []  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "movilidad.wsgi", *options],
        cwd=BASE_DIR,
        env={**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL if quiet else None,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + ready, timeout=2).read()  # noqa: S310 - our own server on loopback
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(30)
