"""Page weight: the bytes a first visit to each page of the public journey transfers.

Shared by tests/core/test_page_weight.py (Django's test client, static files from whitenoise's
compressed manifest storage, as in production) and bench/bench_page_weight.py (`make run` over
HTTP). Both drive the same journey through an `Http` of their own and weigh each page the same way:
the HTML as sent (gzip accepted) plus every stylesheet, script, icon and image it links, and
anything those stylesheets link, each fetched as if nothing were cached; the response's status
line, headers and body count.
"""

import gzip
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

# Every page of the public journey, first visit included, must stay under this many bytes.
LIMIT_BYTES = 50_000
ACCEPT_ENCODING = "gzip, deflate, br"


@dataclass
class Fetched:
    """One response as it travelled: status, headers and the body bytes on the wire."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    wire: bytes

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key.lower() == name.lower()), "")

    @property
    def transferred(self) -> int:
        status_line = len(f"HTTP/1.1 {self.status} XX\r\n")
        return status_line + sum(len(f"{key}: {value}\r\n") for key, value in self.headers) + 2 + len(self.wire)

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.wire) if self.header("Content-Encoding") == "gzip" else self.wire

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def location(self) -> str:
        return self.header("Location")


class Http(Protocol):
    """A visitor: one cookie jar, no cache, gzip accepted, redirects not followed."""

    def get(self, path: str) -> Fetched: ...

    def post(self, path: str, data: dict[str, str]) -> Fetched: ...

    def forget(self) -> None:
        """Drop the cookies: the next request is a new visitor's."""

    def phone_code(self, phone: str) -> str:
        """The code just sent by SMS to `phone` (E.164), as the person reads it."""


class _Links(HTMLParser):
    RELS = {"stylesheet", "icon", "apple-touch-icon", "preload", "modulepreload", "manifest"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "link" and self.RELS & set(values.get("rel", "").lower().split()):
            self.urls.append(values.get("href", ""))
        elif tag in {"script", "img", "source", "input", "video", "audio", "iframe", "embed"}:
            self.urls.append(values.get("src", ""))
            if tag == "video":
                self.urls.append(values.get("poster", ""))


CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


def linked_urls(html: str, page_url: str) -> list[str]:
    """Paths of what a browser loads for this HTML (data: URIs are inside the page already)."""
    parser = _Links()
    parser.feed(html)
    return _local(parser.urls, page_url)


def css_urls(css: str, css_url: str) -> list[str]:
    return _local([a or b for a, b in CSS_URL.findall(css)], css_url)


def _local(urls: list[str], base: str) -> list[str]:
    found = []
    for url in urls:
        if not url or url.startswith(("data:", "#")):
            continue
        absolute = urlsplit(urljoin(base, url))
        found.append(absolute.path + (f"?{absolute.query}" if absolute.query else ""))
    return list(dict.fromkeys(found))


@dataclass
class Weight:
    name: str
    path: str
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def weigh(http: Http, name: str, page: Fetched) -> Weight:
    """The page's bytes and those of everything it links, fetched again for this page alone."""
    weight = Weight(name, urlsplit(page.url).path, {urlsplit(page.url).path: page.transferred})
    queue = linked_urls(page.text, page.url)
    while queue:
        path = queue.pop(0)
        if path in weight.parts:
            continue
        asset = http.get(path)
        assert asset.status == 200, f"{path} (linked from {page.url}) answered {asset.status}"
        weight.parts[path] = asset.transferred
        if asset.header("Content-Type").startswith("text/css"):
            queue += css_urls(asset.body.decode("utf-8"), path)
    return weight


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ANSWERS = {
    "current_country": {"answer": "GT"},
    "nationality": {"answer": "GT"},
    "date_of_birth": {"answer_0": "14", "answer_1": "6", "answer_2": "1986"},
    "fear_of_persecution": {"answer": "no"},
    "us_relative": {"answer": "citizen"},
    "i130_filed": {"answer": "yes"},
    "i130_approved": {"answer": "yes"},
    "job_offer": {"answer": "no"},
}


def journey(http: Http, language: str = "es") -> Iterator[tuple[str, Fetched]]:
    """Every page of the public journey, as a Guatemalan with an approved I-130 petition from a US
    citizen relative answers the questions, books the first free time at a Guatemalan office (or
    the first office offered), then, as a new visitor, opens the manage, privacy and contact pages."""
    prefix = f"/{language}"

    def ok(response: Fetched, status: int = 200) -> Fetched:
        assert response.status == status, f"{response.url} answered {response.status}: {response.text[:500]}"
        return response

    def submit(page: Fetched, data: dict[str, str]) -> Fetched:
        token = CSRF.search(page.text)
        assert token, f"no CSRF token in {page.url}"
        return ok(http.post(urlsplit(page.url).path, {"csrfmiddlewaretoken": token[1], **data}), 302)

    def first(pattern: str, page: Fetched, *, preferring: str = "") -> str:
        found = re.findall(pattern, page.text)
        assert found, f"{pattern} not found in {page.url}"
        return next((match[0] for match in found if preferring and preferring in match[1]), found[0][0])

    page = ok(http.get(f"{prefix}/"))
    yield "Start page", page
    location = ok(http.get(f"{prefix}/questions/"), 302).location
    asked = 0
    while location.startswith(f"{prefix}/questions/") and not location.endswith("/check/"):
        page = ok(http.get(location))
        if not asked:
            yield "A screener question", page
        asked += 1
        key = location.rstrip("/").rsplit("/", 1)[-1]
        assert key in ANSWERS, f"tests/page_weight.py has no answer to the question {key!r}"
        location = submit(page, ANSWERS[key]).location
    page = ok(http.get(location))
    yield "Check your answers", page
    page = ok(http.get(submit(page, {}).location))
    yield "Result", page
    book = first(r'href="([^"]*/book/\?screening=[^"]+)"()', page).replace("&amp;", "&")
    offices = ok(http.get(book), 302).location
    # With one office where the person lives, the office step goes straight to its days: its
    # list (the "change office" link) is weighed on its own.
    page = ok(http.get(f"{offices}?list=1"))
    yield "Booking: office", page
    office = first(r'href="(/[a-z]{2}/book/office/[\w-]+/)"[^>]*>([^<]*)<', page, preferring="Guatemala")
    page = ok(http.get(office))
    yield "Booking: day", page
    page = ok(http.get(first(r'href="(/[a-z]{2}/book/office/[\w-]+/\d{4}-\d{2}-\d{2}/)"()', page)))
    yield "Booking: time", page
    slot = first(r'name="slot" value="(\d+)"()', page)
    page = ok(http.get(submit(page, {"slot": slot}).location))
    yield "Booking: how many people", page
    page = ok(http.get(submit(page, {"party_size": "1"}).location))
    yield "Booking: details", page
    # A new number each time too: a number holds ACTIVE_APPOINTMENTS_PER_PHONE appointments, and
    # `make run` keeps its database from one run to the next.
    mobile = f"5{secrets.randbelow(10**7):07d}"
    details = {
        "full_name": "María José Pérez López",
        "date_of_birth_0": "14",
        "date_of_birth_1": "6",
        "date_of_birth_2": "1986",
        "nationality": "GT",
        "document_type": "passport",
        # A new document each time: a document holds one active appointment.
        "document_number": f"G{secrets.randbelow(10**8):08d}",
        "document_country": "GT",
        "phone": f"+502 {mobile[:4]} {mobile[4:]}",
        "email": "",
        "language": language,
        "party_size": "1",
        "consent": "on",
    }
    page = ok(http.get(submit(page, details).location))
    yield "Booking: check", page
    key = first(r'name="key" value="([^"]+)"()', page)
    location = submit(page, {"key": key}).location
    if location.endswith("/book/phone/"):  # an office that verifies phones: the code sent by SMS
        page = ok(http.get(location))
        yield "Booking: phone code", page
        location = submit(page, {"key": key, "code": http.phone_code(f"+502{mobile}")}).location
    page = ok(http.get(location))
    yield "Your appointment", page
    http.forget()
    for name, path in (("Manage: lookup", "manage/"), ("Privacy notice", "privacy/"), ("Contact", "contact/")):
        yield name, ok(http.get(f"{prefix}/{path}"))


def weigh_journey(http: Http, language: str = "es", *, on_page: Callable[[Weight], None] | None = None) -> list[Weight]:
    weights = []
    for name, page in journey(http, language):
        weight = weigh(http, name, page)
        weights.append(weight)
        if on_page:
            on_page(weight)
    return weights


class ClientHttp:
    """`Http` over Django's test client (a `django.test.Client`): in the test process, through the
    whole middleware stack, whitenoise included."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def forget(self) -> None:
        self.client.cookies.clear()

    def _fetched(self, path: str, response: Any) -> Fetched:
        # A streamed file read to its end is closed by the test client itself (closing it again
        # would close the test's database connection).
        wire = b"".join(response.streaming_content) if response.streaming else response.content
        headers = [*response.headers.items(), *(("Set-Cookie", m.OutputString()) for m in response.cookies.values())]
        return Fetched(f"http://testserver{path}", response.status_code, headers, wire)

    def get(self, path: str) -> Fetched:
        return self._fetched(path, self.client.get(path, headers={"accept-encoding": ACCEPT_ENCODING}))

    def post(self, path: str, data: dict[str, str]) -> Fetched:
        return self._fetched(path, self.client.post(path, data, headers={"accept-encoding": ACCEPT_ENCODING}))

    def phone_code(self, phone: str) -> str:
        from notifications.models import Notification

        return Notification.objects.filter(kind="phone_code", recipient=phone).latest("pk").details["code"]
