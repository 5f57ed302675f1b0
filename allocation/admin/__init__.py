"""One module per capability (waitlist, lottery), gathered here so Django finds them."""

from allocation.admin.lottery import *  # noqa: F403
from allocation.admin.waitlist import *  # noqa: F403
