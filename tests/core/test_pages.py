"""Public pages, languages, security headers and the error pages, through Django's test client."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

FREE_NOTICE = {"es": "Este servicio es gratuito.", "en": "This service is free."}


def test_root_redirects_to_spanish_by_default(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/es/"


def test_root_follows_the_browser_language(client: Client) -> None:
    response = client.get("/", headers={"accept-language": "en-GB,en;q=0.9"})
    assert response["Location"] == "/en/"


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/es/", "Averigüe qué vías legales pueden corresponderle"),
        ("/en/", "Find out which legal pathways may fit you"),
        ("/es/privacy/", "Aviso de privacidad"),
        ("/en/privacy/", "Privacy notice"),
        ("/es/contact/", "Contacto"),
        ("/en/contact/", "Contact"),
    ],
)
def test_public_pages_render_in_each_language(client: Client, path: str, heading: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    language = path.split("/")[1]
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert FREE_NOTICE[language] in html
    assert 'href="#main"' in html
    assert f'href="/{language}/privacy/"' in html
    assert f'href="/{language}/contact/"' in html


def test_start_page_says_what_who_free_and_how_long(client: Client) -> None:
    html = client.get("/en/").content.decode()
    assert "refugee processing, family reunification and temporary work visas" in html
    assert "Who it is for" in html
    assert "It is free" in html
    assert "It takes about 5 minutes." in html
    assert 'href="/en/questions/"' in html


def test_contact_page_shows_the_configured_contact(client: Client, settings) -> None:
    settings.CONTACT_EMAIL = "help@example.org"
    settings.CONTACT_PHONE = "+502 2222 0000"
    html = client.get("/en/contact/").content.decode()
    assert 'href="mailto:help@example.org"' in html
    assert "+502 2222 0000" in html


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("/es/", 'href="/en/" hreflang="en" lang="en">English</a>'),
        ("/en/privacy/", 'href="/es/privacy/" hreflang="es" lang="es">Español</a>'),
        ("/es/contact/?from=sms", 'href="/en/contact/?from=sms" hreflang="en" lang="en">English</a>'),
        ("/en/no-such-page/", 'href="/es/no-such-page/" hreflang="es" lang="es">Español</a>'),
    ],
)
def test_language_switch_links_to_the_same_page(client: Client, path: str, link: str) -> None:
    # An English browser must still be able to switch a Spanish page, and the other way round.
    response = client.get(path, headers={"accept-language": "en" if path.startswith("/es/") else "es"})
    assert link in response.content.decode()


def test_form_without_csrf_token_gets_the_expired_page() -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/admin/login/", {"username": "staff", "password": "x"}, headers={"accept-language": "es"})
    assert response.status_code == 403
    assert "<h1>Esta página ha caducado</h1>" in response.content.decode()


def test_security_headers(client: Client) -> None:
    response = client.get("/es/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_load_nothing_from_other_origins(client: Client) -> None:
    html = client.get("/es/").content.decode()
    assert "http://" not in html
    assert "https://" not in html
    assert "//cdn" not in html


@pytest.mark.parametrize(
    ("language", "heading"),
    [("es", "Página no encontrada"), ("en", "Page not found")],
)
def test_404_page_is_translated(client: Client, language: str, heading: str) -> None:
    response = client.get(f"/{language}/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert FREE_NOTICE[language] in html


@pytest.mark.urls("tests.core.error_urls")
@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/es/forbidden/", 403, "No puede ver esta página"),
        ("/en/forbidden/", 403, "You cannot see this page"),
        ("/es/bad/", 400, "Lo sentimos, no pudimos entender esa solicitud"),
        ("/en/bad/", 400, "Sorry, we could not understand that request"),
        ("/es/boom/", 500, "Lo sentimos, algo falló de nuestro lado"),
        ("/en/boom/", 500, "Sorry, something went wrong on our side"),
    ],
)
def test_error_pages_are_translated_with_debug_off(client: Client, settings, path: str, status: int, heading: str):
    assert settings.DEBUG is False
    client.raise_request_exception = False
    response = client.get(path)
    assert response.status_code == status
    html = response.content.decode()
    assert f"<h1>{heading}</h1>" in html
    assert "Traceback" not in html
    assert "RuntimeError" not in html


def test_disallowed_host_gets_the_400_page(client: Client) -> None:
    response = client.get("/en/", headers={"host": "evil.example"})
    assert response.status_code == 400
    assert "<h1>Sorry, we could not understand that request</h1>" in response.content.decode()


def test_unsafe_methods_on_read_only_pages_are_refused(client: Client) -> None:
    assert client.post("/es/").status_code == 405
    assert client.post("/healthz").status_code == 405


def test_questions_closed_without_a_published_version(client: Client) -> None:
    from eligibility.models import ScreenerVersion

    ScreenerVersion.objects.filter(status="published").update(status="retired")
    response = client.get("/es/questions/")
    assert response.status_code == 503
    assert "<h1>Las preguntas no están disponibles en este momento</h1>" in response.content.decode()


def test_every_public_page_says_who_runs_it_and_its_one_official_address(client: Client, settings) -> None:
    for path in ("/es/", "/en/privacy/", "/ht/contact/"):
        html = client.get(path).content.decode()
        assert 'class="official-line"' in html, path
        assert 'class="site-footer__operator"' in html, path
    assert "OIM y ACNUR" in client.get("/es/").content.decode()
    settings.SERVICE_OPERATOR = "Programa Movilidad Segura"
    settings.OFFICIAL_ADDRESS = "citas.example.org"
    html = client.get("/es/").content.decode()
    assert "Servicio oficial a cargo de Programa Movilidad Segura." in html
    assert "La única dirección oficial es <strong>citas.example.org</strong>." in html
    assert "Oficinas de Movilidad Segura, a cargo de Programa Movilidad Segura." in html
