"""Browser tests: Debian's chromium driven by Playwright, axe-core checking every page visited."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
AXE_SOURCE = (Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]
SCREENSHOT_DIR = Path(settings.BASE_DIR) / "var" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        # This machine has no network beyond loopback: keep chromium from phoning home.
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # Applicants' phones are mostly set to Spanish.
    return {**browser_context_args, "locale": "es-GT"}


class CheckedPage:
    """Wraps a Playwright page: records every request, every CSP complaint and every page loaded,
    runs axe-core on each page and checks that it does not scroll sideways. At the end of the test
    it fails if any page went unchecked, a request left the test server, or the browser reported a
    Content Security Policy violation."""

    def __init__(self, page: Page, base_url: str, axe_page: Page | None = None) -> None:
        self.page = page
        self.base_url = base_url
        # With JavaScript off axe cannot run in the page itself: it runs on the same HTML, served
        # at the same address, in a second page that has JavaScript.
        self.axe_page = axe_page
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.loaded: list[str] = []
        self.checked: set[str] = set()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._on_console)
        page.on("framenavigated", self._on_navigated)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.loaded.append(_without_fragment(frame.url))

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.check_accessibility()

    def check_accessibility(self) -> None:
        """Run axe-core on the current page and fail on any violation."""
        self.page.wait_for_load_state("load")
        target = self.page
        if self.axe_page is not None:
            url, html = self.page.url, self.page.content()
            self.axe_page.route(url, lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
            self.axe_page.goto(url)
            self.axe_page.unroute(url)
            target = self.axe_page
        # evaluate() runs outside the page's CSP, so the strict policy stays on during the test.
        target.evaluate(AXE_SOURCE)
        result = target.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            AXE_TAGS,
        )
        violations = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
        ]
        assert violations == [], f"axe-core violations on {self.page.url}:\n" + "\n".join(violations)
        # Nothing may scroll sideways, down to a 320-pixel-wide screen.
        width, viewport = target.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport, f"{self.page.url} is {width} px wide in a {viewport} px window"
        self.checked.add(_without_fragment(self.page.url))

    def screenshot(self, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def verify(self) -> None:
        outside = [url for url in self.requests if not url.startswith((self.base_url, "data:"))]
        assert outside == [], f"requests left the test server: {outside}"
        csp = [text for text in self.console_errors if "Content Security Policy" in text]
        assert csp == [], f"Content Security Policy violations: {csp}"
        unchecked = [url for url in self.loaded if url not in self.checked and url != "about:blank"]
        assert unchecked == [], f"pages loaded without an accessibility check: {unchecked}"


def _without_fragment(url: str) -> str:
    # Following an in-page link (#main) is not loading a new page.
    return url.split("#", 1)[0]


@pytest.fixture
def checked_page(page: Page, live_server: Any, transactional_db: None) -> Iterator[CheckedPage]:
    checked = CheckedPage(page, live_server.url)
    yield checked
    checked.verify()


def give_second_factor(checked: CheckedPage, username: str) -> None:
    """On the page that asks for the second factor after the password: check it, type the code the
    person's authenticator app shows and continue."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import totp_code

    checked.check_accessibility()
    assert "/admin/account/two-factor/" in checked.page.url
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    checked.page.locator("input[name=code]").fill(totp_code(device))
    checked.page.locator("#content-main form:not([action]) button[type=submit]").click()
