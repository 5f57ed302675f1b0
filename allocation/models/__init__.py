"""One module per capability (waitlist, lottery), gathered here so Django finds them."""

from allocation.models.lottery import *  # noqa: F403
from allocation.models.pending import *  # noqa: F403
from allocation.models.waitlist import *  # noqa: F403
