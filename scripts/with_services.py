#!/usr/bin/env python3
"""Run a command with throwaway PostgreSQL and Redis servers on free loopback ports.

    scripts/with_services.py COMMAND [ARG ...]

Both servers live in one temporary directory and are stopped, and the directory removed, however
the command ends: success, failure, Ctrl-C or SIGTERM. The command sees DATABASE_URL, REDIS_URL,
CELERY_BROKER_URL, CELERY_RESULT_BACKEND and CACHE_URL pointing at them, plus the settings the
test suite runs with. The exit status is the command's.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_USER = "movilidad"
STARTUP_TIMEOUT = 30


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        sys.exit("PostgreSQL server binaries not found under /usr/lib/postgresql (install the postgresql package).")
    return Path(candidates[-1]).parent


def as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def wait_for(what: str, ready, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} while starting")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {STARTUP_TIMEOUT} s")


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Services:
    def __init__(self, *, durable: bool = False) -> None:
        # `durable`: committed means on disk, as in production (a test that stops PostgreSQL
        # abruptly needs it; without it a commit acknowledged just before the stop is lost).
        self.durable = durable
        self.tmp = Path(tempfile.mkdtemp(prefix="movilidad-services-"))
        self.pg_data = self.tmp / "pgdata"
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.pg_started = False
        self.redis: subprocess.Popen | None = None

    def start(self) -> None:
        bin_dir = pg_bin_dir()
        self.tmp.chmod(0o755)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.tmp, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            as_postgres(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.pg_data),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Durability is pointless for a throwaway cluster; speed is not (unless asked for).
        options = f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(self.pg_data), "-o", options, "-l", str(self.tmp / "pg.log")]
        subprocess.run(
            as_postgres([*pg_ctl, "-w", "start"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.pg_started = True
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", PG_USER, PG_USER],
            check=True,
        )
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                "64",
                "--dir",
                str(self.tmp),
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for("redis-server", lambda: redis_answers(self.redis_port), self.redis)

    def stop(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            try:
                self.redis.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.redis.kill()
        if self.pg_started:
            subprocess.run(
                as_postgres([str(pg_bin_dir() / "pg_ctl"), "-D", str(self.pg_data), "-m", "immediate", "stop"]),
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.tmp, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        redis_url = f"redis://127.0.0.1:{self.redis_port}"
        return {
            "DATABASE_URL": f"postgres://{PG_USER}@127.0.0.1:{self.pg_port}/{PG_USER}",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": f"{redis_url}/0",
            "CELERY_RESULT_BACKEND": f"{redis_url}/1",
            "CACHE_URL": f"{redis_url}/2",
            # Tests read mail from Django's in-memory outbox or a local SMTP server of their own.
            "EMAIL_URL": "smtp://127.0.0.1:1",
            "SITE_URL": "http://testserver",
            # The suite serves plain HTTP on loopback with DEBUG off, like production otherwise.
            "DEBUG": "false",
            "HTTPS": "false",
            "STATIC_MANIFEST": "false",
            # Test databases are dropped at the end: no connection may outlive its test.
            "CONN_MAX_AGE": "0",
            "SECRET_KEY": "test-only-" + os.urandom(24).hex(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        }


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    # SIGINT explicitly too: a parent that ignores it (a CI runner, a test process) would
    # otherwise leave it ignored here, and Ctrl-C would not stop the servers.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    services = Services()
    child: subprocess.Popen | None = None
    try:
        services.start()
        print(
            f"with_services: PostgreSQL on 127.0.0.1:{services.pg_port}, Redis on 127.0.0.1:{services.redis_port},"
            f" data in {services.tmp}",
            flush=True,
        )
        child = subprocess.Popen(argv, env={**os.environ, **services.environment()})
        return child.wait()
    except KeyboardInterrupt:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        return 130
    finally:
        services.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
