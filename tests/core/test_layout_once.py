"""The parts of the layout that are the same on every page in a language are rendered once per
language by each process ({% once_per_language %}, core/templatetags/site.py)."""

import pytest
from django.template import engines
from django.test import Client, RequestFactory
from django.utils import translation

from core.templatetags import site

pytestmark = pytest.mark.django_db

PARTS = {"head", "header", "banners", "footer"}


def test_each_language_gets_its_own_copy_and_pages_share_it(client: Client) -> None:
    site._rendered.clear()
    spanish = client.get("/es/").content.decode()
    assert {name for _origin, name, language in site._rendered if language == "es"} == PARTS | {"start"}
    assert "Este servicio es gratuito." in spanish
    english = client.get("/en/privacy/").content.decode()
    assert "This service is free." in english
    assert "Este servicio es gratuito." not in english
    kept = dict(site._rendered)
    assert client.get("/es/contact/").status_code == 200
    assert site._rendered == kept, "another page in a language already rendered adds nothing"
    assert client.get("/es/").content.decode() == spanish, "the copy makes the same page"


def test_a_setting_changed_is_shown_at_once(client: Client, settings) -> None:
    assert "OIM y ACNUR" in client.get("/es/").content.decode()
    settings.SERVICE_OPERATOR = "Programa Movilidad Segura"
    assert "Servicio oficial a cargo de Programa Movilidad Segura." in client.get("/es/").content.decode()


def test_the_copy_is_the_same_as_rendering_each_time(settings) -> None:
    template = engines["django"].from_string(
        '{% load site i18n %}{% once_per_language "x" %}{% translate "Free service." %}{% endonce_per_language %}'
    )
    request = RequestFactory().get("/")
    with translation.override("es"):
        first = template.render({}, request)
        assert template.render({}, request) == first == "Servicio gratuito."
    with translation.override("en"):
        assert template.render({}, request) == "Free service."
    settings.DEBUG = True  # make run: rendered every time, so a template edited shows at once
    site._rendered.clear()
    with translation.override("es"):
        template.render({}, request)
    assert not site._rendered


def test_the_language_switch_keeps_the_page_and_its_query(client: Client) -> None:
    html = client.get("/es/privacy/?x=1").content.decode()
    assert 'href="/en/privacy/?x=1" hreflang="en"' in html
    assert 'href="/ht/privacy/?x=1" hreflang="ht"' in html
    html = client.get("/es/no-such-page/").content.decode()
    assert 'href="/en/no-such-page/" hreflang="en"' in html
