"""Sessions: Django's cached_db engine (read from the cache, written through to the database),
whose first read can bring other keys of the same cache in the same round trip.

A page everyone reads at a release (the times page) needs the session and a few shared cache keys
(the office, its availability version, the day's times). A view names those keys on itself
(`read_along`); `core.middleware.SessionReadAlongMiddleware` reads them with the session, before
anything else reads it, and leaves them on the request (`request.read_along`)."""

from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.http import HttpRequest


class SessionStore(cached_db.SessionStore):
    def read_along(self, keys: list[Hashable]) -> dict[Hashable, Any]:
        """The keys' values in the default cache (those found), read with the session when it has
        not been read yet and lives in that cache; otherwise in a call of their own."""
        default = caches[DEFAULT_CACHE_ALIAS]
        if (
            hasattr(self, "_session_cache")
            or self.session_key is None
            or settings.SESSION_CACHE_ALIAS != DEFAULT_CACHE_ALIAS
        ):
            return default.get_many(keys)
        session_key = self.cache_key
        try:
            found = default.get_many([session_key, *keys])
        except Exception:  # noqa: BLE001 - as Django's load: any cache error reads the database
            found = {}
        data = found.pop(session_key, None)
        # Not in the cache (evicted, or the cache down): as Django's load, from the database.
        self._session_cache = data if data is not None else self.load()
        self.accessed = True
        return found


def read_along(keys: Callable[..., list[Hashable]]) -> Callable[[Callable], Callable]:
    """Decorate a view (outermost) with the cache keys to read with its session: `keys` is called
    with the request and the view's arguments, and returns [] for none."""

    def decorate(view: Callable) -> Callable:
        view.read_along = keys
        return view

    return decorate


def values_read_along(request: HttpRequest, keys: list[Hashable]) -> dict[Hashable, Any] | None:
    """What SessionReadAlongMiddleware read for these keys on this request, or None if it read
    other keys (or none)."""
    read = getattr(request, "read_along", None)
    return read[1] if read is not None and read[0] == keys else None
