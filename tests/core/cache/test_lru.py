"""L1: entries expire on time, the cache stays in bounds, and the hot keys are the ones kept."""

from __future__ import annotations

from backend.core.cache.lru import MISSING, TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_its_ttl() -> None:
    clock = Clock()
    cache = TTLCache(10, clock=clock)
    cache.set("qa:a", "answer", ttl=5)
    clock.now += 4.9
    assert cache.get("qa:a") == "answer"
    clock.now += 0.2
    assert cache.get("qa:a") is MISSING
    assert len(cache) == 0  # an expired entry is dropped when met, not kept until evicted


def test_the_least_recently_used_entry_goes_when_full_and_evictions_are_counted() -> None:
    evicted: list[None] = []
    cache = TTLCache(3, on_evict=lambda: evicted.append(None))
    for key in ("a", "b", "c"):
        cache.set(key, key, ttl=60)
    assert cache.get("a") == "a"  # a is hot now; b is the least recently used
    cache.set("d", "d", ttl=60)
    assert len(cache) == 3
    assert cache.get("b") is MISSING
    assert [cache.get(key) for key in ("a", "c", "d")] == ["a", "c", "d"]
    assert len(evicted) == 1


def test_a_bound_of_zero_caches_nothing() -> None:
    cache = TTLCache(0)
    cache.set("a", 1, ttl=60)
    assert cache.get("a") is MISSING


def test_remove_prefix_flushes_one_kind_only() -> None:
    cache = TTLCache(10)
    cache.set("qa:1", 1, ttl=60)
    cache.set("qa:2", 2, ttl=60)
    cache.set("graph:1", 3, ttl=60)
    assert cache.remove_prefix("qa:") == 2
    assert cache.get("graph:1") == 3
    assert cache.get("qa:1") is MISSING
