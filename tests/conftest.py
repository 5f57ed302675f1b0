"""Fixtures shared by the whole suite: PostgreSQL guard, per-worker broker, Celery worker, browser."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from movilidad.celery import app as celery_app

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# beside one unless told that this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BASE_DIR = Path(settings.BASE_DIR)


def pytest_configure(config: pytest.Config) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError(
            "The test suite runs on PostgreSQL only. Run it through `make test` "
            '(one test: make test PYTEST_ARGS="tests/core/test_healthz.py").'
        )


def _worker_number() -> int:
    # pytest-xdist names its workers gw0, gw1, ...; a plain run has no name.
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


@pytest.fixture(scope="session", autouse=True)
def _broker_per_test_process() -> None:
    """Give every xdist worker its own Redis databases, so a Celery worker started by one test
    process never picks up another process's tasks. Celery reads these two variables before its
    configuration, so they are set in the environment."""
    redis_url = os.environ["REDIS_URL"]
    number = _worker_number()
    os.environ["CELERY_BROKER_URL"] = f"{redis_url}/{10 + number}"
    os.environ["CELERY_RESULT_BACKEND"] = f"{redis_url}/{30 + number}"
    # The test processes share one Redis and each has its own database, where ids repeat:
    # keep their cache entries apart.
    cache_settings = {**settings.CACHES["default"], "KEY_PREFIX": f"test-gw{number}"}
    # The limits counted in Redis outlive each test (its database is rolled back, Redis is not):
    # out of the way here, and set by the tests of each limit (tests/core/test_limits.py). Workers
    # started by a test read them from the environment.
    limits = {
        "SCREENING_FINISH_RATE": "100000/h",
        "SMS_PER_PHONE_PER_DAY": "100000",
        "PHONE_CODES_PER_PHONE_PER_DAY": "100000",
        "FAIR_REQUEST_RATE": "100000/h",
        "PHONE_CODE_RATE": "100000/h",
    }
    os.environ.update(limits)
    override_settings(
        CACHES={**settings.CACHES, "default": cache_settings},
        SCREENING_FINISH_RATE=limits["SCREENING_FINISH_RATE"],
        SMS_PER_PHONE_PER_DAY=int(limits["SMS_PER_PHONE_PER_DAY"]),
        PHONE_CODES_PER_PHONE_PER_DAY=int(limits["PHONE_CODES_PER_PHONE_PER_DAY"]),
        FAIR_REQUEST_RATE=limits["FAIR_REQUEST_RATE"],
        PHONE_CODE_RATE=limits["PHONE_CODE_RATE"],
    ).enable()


@pytest.fixture(autouse=True)
def _no_screener_kept_from_another_test() -> None:
    """Processes keep frozen screener versions (eligibility.selectors); a test's rolled-back data
    can come back under the same ids in the next one."""
    from eligibility.selectors import forget_screeners

    forget_screeners()


def database_url() -> str:
    """The URL of the test database this process uses, for processes started by a test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Environment for the `celery_worker` fixture's process; a test module may override it."""
    return {}


@pytest.fixture
def celery_worker(transactional_db: None, worker_env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process on this test process's broker and test database.

    Data a task must see has to be committed, hence `transactional_db`.
    """
    with running_worker(**worker_env) as process:
        yield process


@contextmanager
def running_worker(**env_overrides: str) -> Iterator[subprocess.Popen]:
    """Start a `celery worker` (solo pool) on the test database; stop it however the block ends."""
    celery_app.control.purge()
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    env = {**os.environ, "DATABASE_URL": database_url(), **env_overrides}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "movilidad",
            "worker",
            "--pool",
            "solo",
            "--hostname",
            name,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[name], timeout=0.5):
            if process.poll() is not None:
                pytest.fail(f"celery worker exited with status {process.returncode} while starting")
            if time.monotonic() > deadline:
                pytest.fail("celery worker did not answer a ping within 60 s")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The worker's database connections are gone now, so the test database can be flushed.


@pytest.fixture
def published(db: None) -> Any:
    """The seeded 2023 screener version (loaded by a migration; reloaded if a flush emptied it)."""
    from django.apps import apps

    from eligibility import seed
    from eligibility.models import ScreenerVersion

    seed.load(apps)
    seed.add_creole(apps)
    return ScreenerVersion.objects.get(status=ScreenerVersion.Status.PUBLISHED)


def totp_code(device: Any, steps_ahead: int = 0) -> str:
    """The code an authenticator app with `device`'s key shows now (or that many 30-second steps
    later: a code is good once, so a second sign-in in the same step takes the next one)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def authenticator_of(user: Any) -> Any:
    """The user's confirmed authenticator (TOTP device), made if they have none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def sign_in(client: Any, user: Any) -> Any:
    """Sign a test client in as `user` for the admin, as a person who gave their password and the
    code of their authenticator (STAFF_OTP_REQUIRED is on in the suite, as in production)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_of(user).persistent_id
    session.save()
    return client


@pytest.fixture
def admin_client(client: Any, admin_user: Any) -> Any:
    """pytest-django's superuser client, signed in with the second factor too."""
    return sign_in(client, admin_user)


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left_at_the_end(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end every other connection to it. PostgreSQL refuses
    to drop a database in use, and the run ended with "database ... is being accessed by other
    users" (the database then left behind). The cause found: the outbox's recording thread did
    not close its own connection (notifications.sending._close_connection; tested in
    tests/notifications/test_batch_claims.py). Kept as a net for a connection another thread may
    leave, which would otherwise fail the run after every test passed."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
