"""An SMS backend for the worker-killed test: it marks that a send began, then waits (up to a
minute) as a provider that never answers would, so the test can kill the worker mid-send."""

import time
from pathlib import Path

from django.conf import settings


class BlockingBackend:
    def send(self, *, to: str, text: str, reference: str = "") -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"began-{reference}").touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.1)
        raise TimeoutError("the blocking backend was never killed")
