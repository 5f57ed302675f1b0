"""`make run`'s file broker hands over whole messages only: a consumer polling while a producer
writes never reads a half-written file. With kombu's own transport (`filesystem.Transport` in
`race`) the same test breaks with a JSONDecodeError in about nine runs out of ten, as the worker
did in a fresh-clone run."""

import contextlib
import threading
from pathlib import Path
from queue import Empty

from kombu import Connection

from core import broker

MESSAGES = 300


def connection(folder: Path, transport: type) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    return Connection("filesystem://localhost/", transport=transport, transport_options=options)


def race(folder: Path, transport: type) -> list[dict]:
    """A producer writes while a consumer takes messages as fast as it can list them."""
    folder.mkdir(exist_ok=True)
    received: list[dict] = []
    producer_done = threading.Event()

    def produce() -> None:
        with connection(folder, transport) as conn:
            channel = conn.default_channel
            for number in range(MESSAGES):
                channel._put("q", {"number": number, "body": "x" * 1_000_000})
        producer_done.set()

    thread = threading.Thread(target=produce)
    with connection(folder, transport) as conn:
        channel = conn.default_channel
        thread.start()
        while not (producer_done.is_set() and len(received) == MESSAGES):
            with contextlib.suppress(Empty):
                received.append(channel._get("q"))
        thread.join()
    return received


def test_a_consumer_never_reads_a_message_being_written(tmp_path: Path) -> None:
    received = race(tmp_path, broker.Transport)
    assert sorted(message["number"] for message in received) == list(range(MESSAGES))
