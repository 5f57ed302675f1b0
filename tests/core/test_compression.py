"""Gzip on the public pages only, never where it could leak a secret (BREACH): see
core.middleware.PublicGZipMiddleware and docs/architecture.md, "Page weight"."""

import gzip
import os
import re
import zlib

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, RequestFactory

from core.compression import deflated, gzip_of_parts
from core.middleware import PublicGZipMiddleware
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


TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def gunzip_exactly(body: bytes) -> bytes:
    """The body gunzipped, refusing anything but one whole gzip stream."""
    decompressor = zlib.decompressobj(wbits=31)
    content = decompressor.decompress(body)
    assert decompressor.eof
    assert decompressor.unused_data == b""
    return content


def test_a_kept_page_is_gzipped_from_its_parts_with_this_request_s_token(client: Client, published: object) -> None:
    """A question page kept by its process (core.pages) is gzipped from its parts compressed once
    (core.compression): the whole page, this request's token in it (sent as a stored block, so
    it is seen as is in the body), and the random padding."""
    client.get("/es/questions/")
    path = "/es/questions/current_country/"
    plain = client.get(path).content.decode()
    secret = client.cookies[settings.CSRF_COOKIE_NAME].value
    bodies = []
    for _ in range(12):
        response = client.get(path, headers=GZIP)
        assert response["Content-Encoding"] == "gzip"
        assert response.kept_parts, "made from the kept page's parts"
        html = gunzip_exactly(response.content).decode()
        token = TOKEN.search(html)[1]
        assert token.encode() in response.content, "the token as a stored block: the parts were used"
        assert _unmask_cipher_token(token) == secret
        assert TOKEN.sub("", html) == TOKEN.sub("", plain)
        bodies.append(response.content)
    assert len({len(body) for body in bodies}) > 1, "padded"
    whole = gzip.compress(plain.encode(), compresslevel=1)
    assert len(bodies[0]) < len(whole) * 1.1, "about as small as gzipping the page whole"


def test_a_kept_page_changed_after_its_view_is_gzipped_whole() -> None:
    """Parts that no longer make the content (a middleware changed it) are not used."""
    response = HttpResponse(b"<p>changed</p>" * 30)
    response.kept_parts = [(b"<p>kept</p>" * 30, deflated(b"<p>kept</p>" * 30))]
    request = RequestFactory().get("/es/", headers={"accept-encoding": "gzip"})
    sent = PublicGZipMiddleware(lambda request: response)(request)
    assert sent["Content-Encoding"] == "gzip"
    assert gunzip_exactly(sent.content) == b"<p>changed</p>" * 30


def test_parts_of_any_size_make_one_gzip_stream() -> None:
    """Empty parts, a value longer than one stored block (65,535 bytes), fixed parts on either
    side: one valid stream whose CRC and length are the whole content's."""
    noise = os.urandom(70_000)
    parts = [
        (b"", deflated(b"")),
        (noise, None),
        (b"<p>fixed</p>" * 500, deflated(b"<p>fixed</p>" * 500)),
        (b"", None),
        (b"token", None),
        (b"</html>", deflated(b"</html>")),
    ]
    body = gzip_of_parts(parts, 100)
    assert gunzip_exactly(body) == b"".join(raw for raw, _deflated in parts)
    assert gzip.decompress(body) == b"".join(raw for raw, _deflated in parts)
