"""One module per capability (waitlist, lottery), gathered here so Django finds them."""

from allocation.tasks.lottery import *  # noqa: F403
from allocation.tasks.waitlist import *  # noqa: F403
