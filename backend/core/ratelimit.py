"""Rate limits shared by all workers and instances through Redis, with a memory fallback.

slowapi, which the first design used, checks limits with a synchronous Redis client on the event
loop: two blocking round trips per request (hit, then window stats for the headers), and a
stalled Redis stalls every request of the worker. bench/ratelimit_cost.py measures that cost.
This limiter keeps slowapi's model (`limits` rate strings, fixed windows keyed by client and
route, X-RateLimit-* and Retry-After headers, in-memory fallback) but makes one async round trip
on the shared Redis pool, under a short timeout.

Far from its limit, a client's hits need not reach Redis one by one: a worker answers a hit itself
while its unsent hits stay under 1/LOCAL_SHARE of what the window has left (as last seen in Redis)
and its last sync is younger than RATE_LIMIT_SYNC_SECONDS, then sends them with the next sync. So
each worker can overshoot a limit by at most 1/LOCAL_SHARE of it, and near the limit (fewer than
LOCAL_SHARE hits left) every hit is counted in Redis before it is answered: small limits stay exact.
While one hit syncs a window, the others far from the limit are answered the same way (one round trip
per window and worker at a time, not one per concurrent request).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits import parse as parse_rate_limit

from backend.core.config import Settings
from backend.core.logging import get_logger
from backend.core.metrics import RATE_LIMIT_FALLBACK, REDIS_ERRORS
from backend.core.redis import RedisClient

log = get_logger("ratelimit")

LOCAL_SHARE = 16
_SAME_WINDOW_SECONDS = 0.5  # two syncs whose reset times are this close saw the same window
_PRUNE_ABOVE = 10_000  # windows remembered per worker before expired ones are dropped

# Add this worker's hits to the window counter, start its expiry with the window's first hits,
# return (count, ms until reset).
_FIXED_WINDOW_LUA = """
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if current == tonumber(ARGV[2]) or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
"""


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs several times more, per request
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # whole seconds until the window resets

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The X-RateLimit-* headers of a successful response, as ASGI sends them."""
        return [
            (b"x-ratelimit-limit", b"%d" % self.limit),
            (b"x-ratelimit-remaining", b"%d" % self.remaining),
            (b"x-ratelimit-reset", b"%d" % self.reset_after),
        ]

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_after)
        return headers


@dataclass(slots=True)
class _Window:
    """What this worker knows of one client's window in Redis."""

    reset_at: float  # monotonic time the window ends
    seen: int  # the shared count at the last sync: every worker's hits
    synced_at: float
    pending: int = 0  # hits answered here since, not yet added in Redis
    syncing: bool = False  # a hit is adding this worker's hits in Redis right now


class RateLimiter:
    def __init__(self, redis: RedisClient, settings: Settings, service: str) -> None:
        self._redis = redis
        self._script = redis.register_script(_FIXED_WINDOW_LUA)
        self._prefix = f"{settings.redis_key_prefix}{service}:rl:"
        self._timeout = settings.rate_limit_storage_timeout
        self._recheck_after = settings.rate_limit_recheck_seconds
        self._service = service
        # While Redis is away: each worker's own fixed windows, [end (monotonic), hits] by key.
        self._memory: dict[str, list[float]] = {}
        self._fallbacks = RATE_LIMIT_FALLBACK.labels(service)
        self._redis_down_until = 0.0
        self._sync_seconds = settings.rate_limit_sync_seconds
        self._windows: dict[str, _Window] = {}
        self.enabled = settings.rate_limit_enabled
        self.limits: dict[str, RateLimitItem] = {
            "default": parse_rate_limit(settings.rate_limit_default),
            "qa": parse_rate_limit(settings.rate_limit_qa),
            "health": parse_rate_limit(settings.rate_limit_health),
        }

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._redis_down_until

    async def hit(self, name: str, scope: str, client: str) -> Decision:
        item = self.limits[name]
        key = f"{self._prefix}{name}:{scope}:{client}"
        now = time.monotonic()
        if now >= self._redis_down_until:  # not degraded (one clock read serves both)
            window = self._windows.get(key)
            if window is not None and now >= window.reset_at:
                window = None  # its unsent hits belonged to a window that is over
            if (
                window is not None
                and (now - window.synced_at < self._sync_seconds or (window.syncing and self._sync_seconds))
                and window.pending < (item.amount - window.seen) // LOCAL_SHARE
            ):
                # A sync under way counts as a fresh one: the hits meanwhile go with the next sync,
                # rather than every request of the moment making its own round trip.
                window.pending += 1
                remaining = item.amount - window.seen - window.pending
                return Decision(True, item.amount, remaining, max(1, math.ceil(window.reset_at - now)))
            hits = 1
            if window is not None:
                hits += window.pending
                window.pending = 0
                window.syncing = True
            try:
                async with asyncio.timeout(self._timeout):  # no extra task, unlike wait_for
                    count, ttl_ms = await self._script(keys=[key], args=[item.get_expiry() * 1000, hits])
                self._synced(key, _Window(now + int(ttl_ms) / 1000, int(count), now))
                return _decision(item, int(count), int(ttl_ms))
            except Exception as exc:  # any Redis failure: degrade, never fail the request
                if window is not None:
                    window.pending += hits - 1  # unsent still, for when Redis is back
                    window.syncing = False
                REDIS_ERRORS.labels(self._service, "rate_limit").inc()
                self._redis_down_until = time.monotonic() + self._recheck_after
                log.warning(
                    "rate-limit storage unavailable, limiting in worker memory",
                    extra={"error": type(exc).__name__, "retry_in_s": self._recheck_after},
                )
        self._fallbacks.inc()
        return self._hit_in_memory(item, key, now)

    def _hit_in_memory(self, item: RateLimitItem, key: str, now: float) -> Decision:
        """The fixed window in this worker alone, as cheap as a hit far from the limit: a stall that
        times one sync out (a VM pause, a full collection) must not slow the requests of the
        RATE_LIMIT_RECHECK_SECONDS after it. Refused hits count too, as in Redis."""
        window = self._memory.get(key)
        if window is None or now >= window[0]:
            if len(self._memory) >= _PRUNE_ABOVE:
                self._memory = {k: w for k, w in self._memory.items() if w[0] > now}
            window = self._memory[key] = [now + item.get_expiry(), 0]
        window[1] += 1
        hits = int(window[1])
        return Decision(
            hits <= item.amount, item.amount, max(0, item.amount - hits), max(1, math.ceil(window[0] - now))
        )

    def _synced(self, key: str, fresh: _Window) -> None:
        current = self._windows.get(key)
        if current is not None and abs(current.reset_at - fresh.reset_at) < _SAME_WINDOW_SECONDS:
            # Updated in place: the hits answered here while the sync was under way are not in its
            # count, they stay pending for the next one.
            current.seen = max(current.seen, fresh.seen)  # of two syncs, the later count in Redis
            current.reset_at, current.synced_at, current.syncing = fresh.reset_at, fresh.synced_at, False
        else:  # the first hit here, or Redis started a new window
            self._remember(key, fresh)

    def _remember(self, key: str, window: _Window) -> None:
        if len(self._windows) >= _PRUNE_ABOVE:
            now = time.monotonic()
            self._windows = {k: w for k, w in self._windows.items() if w.reset_at > now}
        self._windows[key] = window


def _decision(item: RateLimitItem, count: int, ttl_ms: int) -> Decision:
    return Decision(
        allowed=count <= item.amount,
        limit=item.amount,
        remaining=max(0, item.amount - count),
        reset_after=max(1, math.ceil(ttl_ms / 1000)),
    )
