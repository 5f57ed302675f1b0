"""A visitor of the site over HTTP, for the benchmarks that drive gunicorn (bench_booking,
bench_rush, bench_fairness): its own cookies, redirects returned rather than followed, and the
fields of the forms it fills. Standard library only."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
KEY = re.compile(r'name="key" value="([^"]+)"')
SLOT = re.compile(r'name="slot" value="(\d+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """One visitor: its own cookies; redirects are returned, not followed. Subclasses add headers
    (`headers`) and look at each answer (`answered`)."""

    timeout = 120

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def headers(self) -> dict[str, str]:
        return {}

    def answered(self, path: str, status: int, text: str) -> None:
        """Called with every answer; nothing here."""

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """GET `path`, or POST `data` to it: the status, the body and (for a redirect) the Location."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers())  # noqa: S310 - loopback
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status, text, location = response.status, response.read().decode(), ""
        except urllib.error.HTTPError as exc:
            status, text, location = exc.code, exc.read().decode(errors="replace"), exc.headers.get("Location", "")
        self.answered(path, status, text)
        return status, text, location


def details_form(token: str, *, name: str, document: str, phone: str) -> dict[str, str]:
    """The booking's (and the lottery request's) details form, filled in for one adult."""
    return {
        "csrfmiddlewaretoken": token,
        "full_name": name,
        "date_of_birth_0": "2",
        "date_of_birth_1": "4",
        "date_of_birth_2": "1988",
        "nationality": "VE",
        "document_type": "passport",
        "document_number": document,
        "document_country": "VE",
        "phone": phone,
        "language": "es",
        "party_size": "1",
        "consent": "on",
    }
