"""The built Bootstrap (`npm run build`) draws every page of the public journey exactly as the
whole of Bootstrap does: every element's computed style, at 320 px and on a desktop, with radio
buttons and checkboxes ticked and with form errors showing."""

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import Page

from appointments.services.slots import generate_slots
from eligibility import seed
from tests.appointments.conftest import OfficeFactory
from tests.page_weight import ClientHttp, Fetched, journey

FULL_BOOTSTRAP = (Path(settings.BASE_DIR) / "node_modules/bootstrap/dist/css/bootstrap.min.css").read_text()
WIDTHS = (320, 1280)
# Every element's computed style (custom properties aside: the build drops the unused ones, and
# they draw nothing themselves), and its ::before and ::after when they have content.
STYLES = """() => {
  for (const input of document.querySelectorAll("input[type=radio], input[type=checkbox]")) {
    if (!document.querySelector(`input[name="${input.name}"]:checked`)) input.checked = true;
  }
  const styles = {};
  const describe = (style) => Array.from(style).filter((name) => !name.startsWith("--"))
    .map((name) => `${name}: ${style.getPropertyValue(name)}`);
  document.querySelectorAll("html, body, body *:not(option):not(optgroup):not(svg *)").forEach((el, index) => {
    const key = `${index} ${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`;
    styles[key] = describe(getComputedStyle(el));
    for (const pseudo of ["::before", "::after"]) {
      const style = getComputedStyle(el, pseudo);
      if (style.content !== "none") styles[key + pseudo] = describe(style);
    }
  });
  return styles;
}"""


@pytest.fixture
def _office(transactional_db: None) -> None:
    seed.load(apps)
    office = OfficeFactory(
        name="Oficina de Movilidad Segura Guatemala",
        country="GT",
        city="Ciudad de Guatemala",
        time_zone="America/Guatemala",
        pathways=["refugee", "family-reunification", "temporary-work"],
        hours=[(day, datetime.time(8), datetime.time(10), 2) for day in range(7)],
    )
    generate_slots(office=office)
    connections.close_all()


def styles(page: Page, url: str, html: str, *, full_bootstrap: bool) -> dict[int, dict[str, list[str]]]:
    """The page's styles at each width, its HTML served as it was, with the built or the whole CSS."""
    page.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    if full_bootstrap:
        page.route(
            "**/static/vendor/bootstrap/bootstrap.css",
            lambda route: route.fulfill(body=FULL_BOOTSTRAP, content_type="text/css"),
        )
    try:
        page.goto(url)
        result = {}
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            result[width] = page.evaluate(STYLES)
        return result
    finally:
        page.unroute_all()


def pages(http: ClientHttp) -> Iterator[tuple[str, Fetched]]:
    """The journey, and its forms sent empty (the error summary and the fields in error)."""
    for name, page in journey(http):
        yield name, page
        if name in {"A screener question", "Booking: details", "Manage: lookup"}:
            path = page.url.removeprefix("http://testserver")
            # The test client does not check CSRF tokens: the form is simply empty.
            errors = http.post(path, {})
            assert errors.status in {200, 400}, (path, errors.status)
            yield f"{name}, sent empty", errors


@pytest.mark.usefixtures("_office")
def test_the_built_css_draws_the_journey_as_bootstrap_does(page: Page, live_server: Any) -> None:
    compared = []
    for name, fetched in pages(ClientHttp(Client())):
        url = live_server.url + fetched.url.removeprefix("http://testserver")
        built = styles(page, url, fetched.text, full_bootstrap=False)
        full = styles(page, url, fetched.text, full_bootstrap=True)
        for width in WIDTHS:
            assert built[width].keys() == full[width].keys()
            differences = {
                element: sorted(set(full[width][element]) ^ set(built[width][element]))
                for element in full[width]
                if full[width][element] != built[width][element]
            }
            assert differences == {}, f"{name} at {width} px differs from Bootstrap: {differences}"
        compared.append(name)
    assert len(compared) == 17, compared  # the journey, plus its pages sent with errors
