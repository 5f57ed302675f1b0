"""GET /healthz reports the database, the cache and the broker, and never hangs."""

import socket
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from core import views

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: the way a hung server behaves."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_all_up(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "up",
        "checks": {"database": "up", "cache": "up", "broker": "up"},
        "failing": [],
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("port_fixture", ["closed_port", "silent_port"])
def test_broker_down_is_named_within_five_seconds(
    client: Client, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, port_fixture: str
) -> None:
    port = request.getfixturevalue(port_fixture)
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "up", "cache": "up", "broker": "down"}
    assert response.json()["failing"] == ["broker"]
    assert elapsed < 5, f"/healthz took {elapsed:.1f} s with the broker down"


def test_cache_down_is_named(client: Client, settings, closed_port: int) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]


def test_failure_log_names_the_part_but_not_the_url(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, closed_port: int
) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://:s3cret-password@127.0.0.1:{closed_port}/0")
    client.get("/healthz")
    assert "healthz check=broker state=down" in caplog.text
    assert "s3cret-password" not in caplog.text


def test_a_hung_dependency_is_named_within_five_seconds(
    client: Client, monkeypatch: pytest.MonkeyPatch, silent_port: int
) -> None:
    def hung_database() -> None:
        with socket.create_connection(("127.0.0.1", silent_port)) as sock:
            sock.recv(1)  # never answers

    monkeypatch.setitem(views.HEALTH_CHECKS, "database", hung_database)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def test_healthz_is_served_over_plain_http_behind_the_load_balancer(client: Client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/es/").status_code == 301
    assert client.get("/healthz").status_code == 200
