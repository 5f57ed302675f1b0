"""The admin's pages allow exactly the two inline styles Django's jQuery applies; public pages
stay strict."""

import pytest
from django.test import Client

from core.middleware import ADMIN_STYLE_HASHES

pytestmark = pytest.mark.django_db


def style_src(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(part for part in policy.split(";") if part.strip().startswith("style-src"))


def test_admin_pages_carry_the_hashes_and_public_pages_do_not() -> None:
    client = Client()
    admin = style_src(client.get("/admin/login/"))
    for token in ADMIN_STYLE_HASHES:
        assert token in admin
    assert "'unsafe-inline'" not in admin
    public = style_src(client.get("/es/"))
    assert "unsafe-hashes" not in public
    assert "sha256" not in public
