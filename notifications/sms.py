"""SMS backends, chosen by settings.SMS_BACKEND: files for the demo and tests, an HTTP provider in
production. A backend sends one text to one number and returns the provider's message id."""

import base64
import datetime
import json
import unicodedata
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

# The GSM 03.38 basic character set (plus space): a text made of these fits 160 characters a part.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_SINGLE_PART = 160
# The extension table: each of these takes two of the 160 positions (an escape and the character).
GSM7_EXTENSION = set("^{}\\[~]|€\f")


class SmsError(Exception):
    """A message the provider did not take. `permanent` errors are not retried."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def to_gsm7(text: str) -> str:
    """Replace the letters GSM-7 lacks (á, í, ó, ú, …) by their base letter, so Spanish texts
    stay in the 7-bit alphabet and one part holds 160 characters instead of 70."""
    out = []
    for char in text:
        if char in GSM7 or char in GSM7_EXTENSION:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7 for c in base) else ("" if unicodedata.combining(char) else "?"))
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7 or char in GSM7_EXTENSION for char in text)


def gsm7_length(text: str) -> int:
    """Positions the text takes in a GSM-7 part; a text with any other character is sent in UCS-2,
    where a part holds 70, so it counts as 160/70 positions a character."""
    if not is_gsm7(text):
        return -(-len(text) * GSM7_SINGLE_PART // 70)
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


class FileBackend:
    """Writes each message to a file of its own in SMS_FILE_PATH (the demo's var/sms/)."""

    def __init__(self) -> None:
        self.folder: Path | None = None  # made once for the batch this backend sends

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        folder = self.folder
        if folder is None:
            folder = self.folder = Path(settings.SMS_FILE_PATH)
            folder.mkdir(parents=True, exist_ok=True)
        message_id = f"{datetime.datetime.now(datetime.UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"
        (folder / f"{message_id}.txt").write_text(f"To: {to}\n\n{text}\n", encoding="utf-8")
        return message_id


class HttpBackend:
    """Posts {"from", "to", "text", "reference"} as JSON with HTTP basic authentication to
    SMS_HTTP_URL and reads the message id from the JSON answer ("id" or "message_id"). The
    reference is the same on every attempt, for providers that drop repeats. A 4xx answer other
    than 408 and 429 is permanent (a wrong number, say); other failures are retried. Any 2xx answer
    means the provider took the message, even without an id: retrying could send it twice."""

    def send(self, *, to: str, text: str, reference: str = "") -> str:
        body = json.dumps({"from": settings.SMS_SENDER, "to": to, "text": text, "reference": reference}).encode()
        credentials = base64.b64encode(f"{settings.SMS_HTTP_USER}:{settings.SMS_HTTP_PASSWORD}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the URL comes from settings, not from users
            settings.SMS_HTTP_URL,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.SMS_HTTP_TIMEOUT) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise SmsError(f"HTTP {exc.code}: {detail}", permanent=permanent) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsError(f"provider unreachable: {type(exc).__name__}", permanent=False) from exc
        except ValueError:
            answer = {}  # accepted, but the answer is not JSON: keep the reference as the id
        message_id = (answer.get("id") or answer.get("message_id")) if isinstance(answer, dict) else None
        return str(message_id or reference)


def get_backend() -> FileBackend | HttpBackend:
    return import_string(settings.SMS_BACKEND)()
