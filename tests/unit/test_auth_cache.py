from __future__ import annotations

import uuid

from muster.auth.cache import PrincipalCache
from muster.auth.principal import Principal
from muster.models.enums import Role


class Ticking:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _principal(name: str = "k") -> Principal:
    return Principal(uuid.uuid4(), name, Role.ANALYST, uuid.uuid4())


def test_fresh_entries_are_served_until_they_expire() -> None:
    clock = Ticking()
    cache = PrincipalCache(5, monotonic=clock)
    who = _principal()
    cache.put("mst_a", None, who)
    assert cache.get("mst_a", None) is who
    clock.now += 4.9
    assert cache.get("mst_a", None) is who
    clock.now += 0.2
    assert cache.get("mst_a", None) is None


def test_entries_are_per_key_and_per_requested_tenant() -> None:
    cache = PrincipalCache(5, monotonic=Ticking())
    who = _principal()
    cache.put("mst_a", "t1", who)
    assert cache.get("mst_a", "t2") is None
    assert cache.get("mst_b", "t1") is None
    assert cache.get("mst_a", "t1") is who


def test_clear_forgets_everything_and_zero_ttl_disables() -> None:
    cache = PrincipalCache(5, monotonic=Ticking())
    cache.put("mst_a", None, _principal())
    cache.clear()
    assert cache.get("mst_a", None) is None
    off = PrincipalCache(0)
    off.put("mst_a", None, _principal())
    assert off.get("mst_a", None) is None


def test_size_is_bounded() -> None:
    cache = PrincipalCache(5, max_entries=3, monotonic=Ticking())
    for i in range(10):
        cache.put(f"mst_{i}", None, _principal(str(i)))
    assert len(cache._entries) <= 3
    assert cache.get("mst_9", None) is not None


def test_the_plaintext_key_is_not_held() -> None:
    cache = PrincipalCache(5, monotonic=Ticking())
    cache.put("mst_secret_value", None, _principal())
    assert all("mst_secret_value" not in key[0] for key in cache._entries)
