"""Recently authenticated keys, so a busy client does not cost a database lookup per request.

An entry lives `ttl` seconds. The API clears the cache whenever it changes keys or tenants, so
a revocation or suspension made through this process applies at once; one made elsewhere (the
CLI, another API process) applies within `ttl`. Only a digest of the key is held.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from muster.auth.principal import Principal


class PrincipalCache:
    """A small TTL map from (key digest, requested tenant) to the authenticated principal."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[tuple[str, str | None], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, tenant: str | None) -> Principal | None:
        """The principal cached for this key and tenant, if still fresh."""
        if self.ttl <= 0:
            return None
        key = (_digest(token), tenant)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < self._monotonic():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, token: str, tenant: str | None, principal: Principal) -> None:
        """Remember a successful authentication for `ttl` seconds."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(_digest(token), tenant)] = (self._monotonic() + self.ttl, principal)

    def clear(self) -> None:
        """Forget everything (after any change to keys or tenants)."""
        with self._lock:
            self._entries.clear()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
