"""Gzip on the public pages only, never where it could leak a secret (BREACH): see
core.middleware.PublicGZipMiddleware and docs/architecture.md, "Page weight"."""

import gzip

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

GZIP = {"accept-encoding": "gzip, deflate, br"}


@pytest.mark.parametrize("path", ["/es/", "/en/privacy/", "/es/contact/", "/es/questions/current_country/"])
def test_public_pages_are_gzipped(client: Client, published: object, path: str) -> None:
    if "questions" in path:
        client.get("/es/questions/")
    plain = client.get(path)
    response = client.get(path, headers=GZIP)
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert int(response["Content-Length"]) == len(response.content) < len(plain.content) / 2
    html = gzip.decompress(response.content).decode()
    assert html.startswith("<!doctype html>")
    assert "</html>" in html
    assert "Content-Encoding" not in plain, "only for a browser that accepts gzip"


def test_django_pads_each_gzipped_page_with_random_bytes(client: Client) -> None:
    """Heal the BREACH (Django 4.2+): a random-length file name in the gzip header, so sizes vary.
    If a Django upgrade drops it, docs/architecture.md's BREACH reasoning must be read again."""
    bodies = [client.get("/es/privacy/", headers=GZIP).content for _ in range(12)]
    assert all(body[3] & 0x08 for body in bodies), "FNAME flag set"
    assert len({len(body) for body in bodies}) > 1


def test_a_page_asked_for_with_a_query_string_is_not_gzipped(client: Client) -> None:
    """The language link repeats the query string in the page: text another site chooses."""
    response = client.get("/es/privacy/?guess=Mar%C3%ADa", headers=GZIP)
    assert response.status_code == 200
    assert "guess=Mar%C3%ADa" in response.content.decode(), "the reflection this rule is about"
    assert "Content-Encoding" not in response


def test_the_admin_is_not_gzipped(client: Client) -> None:
    """Applicants' data beside the changelist's search text: never compressed."""
    admin = User.objects.create_superuser("root", "root@example.org", "a long test password 1")
    sign_in(client, admin)
    for path in ("/admin/login/", "/admin/", "/admin/appointments/appointment/?q=Mar%C3%ADa"):
        response = client.get(path, headers=GZIP, follow=True)
        assert response.status_code == 200
        assert len(response.content) > 1000
        assert "Content-Encoding" not in response, path


def test_gzip_comes_right_after_whitenoise() -> None:
    """Outside every middleware that writes the body; whitenoise's files come gzipped already."""
    middleware = settings.MIDDLEWARE
    assert middleware.index("core.middleware.PublicGZipMiddleware") == (
        middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1
    )
    assert "django.middleware.gzip.GZipMiddleware" not in middleware
