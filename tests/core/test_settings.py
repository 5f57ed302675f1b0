"""Production settings: refuse to start without a secret, and pass `check --deploy` cleanly."""

import json
import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import database_url

PRODUCTION = {
    "SECRET_KEY": "p" * 20 + "roduction-secret-key-with-plenty-of-entropy-0123456789",
    "ALLOWED_HOSTS": "movilidad.example",
    "CSRF_TRUSTED_ORIGINS": "https://movilidad.example",
    "CACHE_URL": os.environ["CACHE_URL"],
    "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.movilidad.example:587",
    "SITE_URL": "https://movilidad.example",
    "SMS_BACKEND": "notifications.sms.HttpBackend",
    "SMS_HTTP_URL": "https://sms.provider.example/messages",
}


def run_python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Only what a production host would set: nothing from the test environment leaks in.
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "movilidad.settings", **env}
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_secret_key_stops_start_up_with_a_clear_message() -> None:
    env = {key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"}
    result = run_python("manage.py", "check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_missing_services_stop_start_up_instead_of_falling_back_to_the_demo() -> None:
    env = {key: value for key, value in PRODUCTION.items() if key not in ("CELERY_BROKER_URL", "EMAIL_URL")}
    result = run_python("manage.py", "check", env=env)
    assert result.returncode != 0
    assert "DATABASE_URL, CELERY_BROKER_URL, EMAIL_URL not set." in result.stderr


def test_check_deploy_is_clean_with_production_variables(db: None) -> None:
    env = {**PRODUCTION, "DATABASE_URL": database_url()}
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stderr
    # The one silenced check is django-ratelimit's W001: it lists only django-redis, and Django's own
    # Redis cache has the atomic add and incr it needs (settings.py).
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."


def test_production_defaults_are_secure() -> None:
    env = {**PRODUCTION, "DATABASE_URL": database_url()}
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS >= 31536000, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY,"
        " s.DATABASES['default']['CONN_HEALTH_CHECKS'], s.CACHES['default']['OPTIONS']['socket_timeout'],"
        " s.CELERY_BROKER_TRANSPORT_OPTIONS['socket_timeout'], s.CELERY_BROKER_CONNECTION_TIMEOUT)"
    )
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "True",
        "True",
        "True",
        "True",
        "DENY",
        "same-origin",
        "True",
        "2",
        "3",
        "2",
    ]


def test_publishing_to_a_hung_broker_fails_fast() -> None:
    """A broker that accepts connections and never answers must not hang the request that publishes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = {
            **PRODUCTION,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
        }
        code = "import django; django.setup(); from core.tasks import clear_expired_sessions as t; t.delay()"
        result = run_python("-c", code, env=env)
    assert result.returncode != 0
    assert "OperationalError" in result.stderr or "TimeoutError" in result.stderr, result.stderr[-2000:]


def test_production_static_build(tmp_path) -> None:
    """collectstatic with the hashed, compressed storage production uses (Bootstrap built by npm run build)."""
    env = {**PRODUCTION, "DATABASE_URL": database_url(), "STATIC_ROOT": str(tmp_path), "STATIC_MANIFEST": "true"}
    result = run_python("manage.py", "collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    paths = json.loads(manifest)["paths"]
    for name in ("vendor/bootstrap/bootstrap.css", "css/site.css"):
        assert (tmp_path / f"{paths[name]}.gz").exists(), f"{name} has no gzipped copy"


def test_staff_need_a_second_factor_in_production_and_not_in_the_demo() -> None:
    code = "import django; django.setup(); from django.conf import settings as s; print(s.STAFF_OTP_REQUIRED)"
    production = run_python("-c", code, env={**PRODUCTION, "DATABASE_URL": database_url()})
    assert production.stdout.split() == ["True"], production.stderr
    demo = run_python("-c", code, env={"DEBUG": "true"})
    assert demo.stdout.split() == ["False"], demo.stderr


def test_check_deploy_warns_when_production_turns_the_second_factor_off(db: None) -> None:
    env = {**PRODUCTION, "DATABASE_URL": database_url(), "STAFF_OTP_REQUIRED": "false"}
    result = run_python("manage.py", "check", "--deploy", env=env)
    assert "accounts.W001" in result.stdout + result.stderr


def test_check_deploy_warns_when_messages_would_be_written_to_files(db: None) -> None:
    """Files keep recipients and manage links on disk, where retention never erases them."""
    env = {**PRODUCTION, "DATABASE_URL": database_url(), "EMAIL_URL": "file:///tmp/mail"}
    del env["SMS_BACKEND"]
    result = run_python("manage.py", "check", "--deploy", env=env)
    output = result.stdout + result.stderr
    assert "core.W001" in output
    assert "SMS_BACKEND, EMAIL_URL" in output


def test_old_secret_keys_are_read_from_the_environment_for_a_rotation() -> None:
    # Recovery codes are hashed with SECRET_KEY: after a rotation the old key, kept as a fallback,
    # still checks the codes made before it (and Django's sessions and signed values).
    env = {**PRODUCTION, "DATABASE_URL": database_url(), "SECRET_KEY_FALLBACKS": "old-key-one,old-key-two"}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY_FALLBACKS)"
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['old-key-one', 'old-key-two']"


@pytest.mark.parametrize(
    ("site_url", "warned"),
    [("https://citas.movilidadsegura.org", False), ("https://citas.movilidadsegura.org.co", True)],
)
def test_check_deploy_warns_when_site_url_is_too_long_for_one_sms(db: None, site_url: str, warned: bool) -> None:
    """Every SMS is written to fit one part with a SITE_URL of up to 33 characters."""
    env = {**PRODUCTION, "DATABASE_URL": database_url(), "SITE_URL": site_url}
    result = run_python("manage.py", "check", "--deploy", env=env)
    assert ("core.W002" in result.stdout + result.stderr) is warned
