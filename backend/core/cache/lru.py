"""L1: one worker's in-process LRU with a TTL per entry.

O(1) get and set (an OrderedDict moved to the end on use), bounded by CACHE_MAX_SIZE entries, and
guarded by a lock because the thread pool may use it as well as the event loop. Expired entries
are dropped when met; the least recently used entry goes when the cache is full, so hot keys stay.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MISSING: Any = object()


class TTLCache:
    def __init__(
        self,
        max_size: int,
        *,
        on_evict: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._on_evict = on_evict
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Any:
        """The value, or MISSING when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return MISSING
            if entry[0] <= self._clock():
                del self._entries[key]
                return MISSING
            self._entries.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        if self.max_size == 0 or ttl <= 0:
            return
        evicted = 0
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
                evicted += 1
        if evicted and self._on_evict is not None:
            for _ in range(evicted):
                self._on_evict()

    def remove_prefix(self, prefix: str) -> int:
        """Drop every key starting with `prefix` ("" drops all); O(n), for an admin's flush."""
        with self._lock:
            doomed = [key for key in self._entries if key.startswith(prefix)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def remove_where(self, predicate: Callable[[Any], bool]) -> int:
        """Drop every entry whose value matches; O(n)."""
        with self._lock:
            doomed = [key for key, (_, value) in self._entries.items() if predicate(value)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)
