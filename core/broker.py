"""The file-based broker of `make run` (kombu's filesystem transport), with whole messages only.

kombu writes a message straight into the queue folder and takes its lock only after creating the
file, while a consumer moves whatever file it lists without looking at locks: a worker polling at
the wrong moment reads an empty or half-written file and stops with a JSON error (seen when beat
sends a task as the worker starts). Here a message is written under a name the consumer skips,
then renamed into the queue in one step (rename is atomic within a folder)."""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: the consumer reads only "<stamp>_<uuid>.<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
