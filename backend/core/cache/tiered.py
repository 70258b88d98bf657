"""Tiered caching of computed answers: L1 in the worker, L2 in Redis, L3 the knowledge layer itself.

    get_or_compute(kind, parts, compute)
      key  = kind + hash(normalised parts, knowledge-base generation, embedder identity)
      L1 hit ─► value                                   (hot keys stay: LRU)
      same key already computing in this worker ─► wait for it        (single flight, worker)
      L2 hit ─► fill L1 ─► value
      take the key's Redis lock ─► compute ─► L1 + L2 ─► unlock
      lock held elsewhere ─► poll L2 until the value appears   (single flight, cluster), or take
                             the lock when its holder let go, or compute after CACHE_WAIT_SECONDS

Stale answers cannot outlive a knowledge-base change: every write bumps the generation the key is
built from (see KnowledgeService.current_generation), in every worker and every replica.
Empty results (nothing found) are cached for CACHE_TTL_EMPTY only (penetration); every TTL gets
±CACHE_TTL_JITTER (avalanche). Redis trouble opens a breaker: L2 is skipped, L1 keeps serving,
callers never see an error, and a half-open trial brings L2 back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import FastAPI

from backend.core.breaker import BreakerState, CircuitBreaker
from backend.core.cache.lru import MISSING, TTLCache
from backend.core.cache.metrics import (
    CACHE_COALESCED,
    CACHE_COMPUTES,
    CACHE_EVICTIONS,
    CACHE_FLUSHES,
    CACHE_L1_ENTRIES,
    CACHE_L2_BREAKER,
    CACHE_L2_ERRORS,
    CACHE_L2_SKIPPED,
    CACHE_REQUESTS,
)
from backend.core.config import Settings
from backend.core.logging import get_logger
from backend.core.redis import RedisClient

log = get_logger("cache")

Kind = Literal["qa", "retrieval", "entities", "graph"]
KINDS: tuple[Kind, ...] = ("qa", "retrieval", "entities", "graph")
FLUSH_POLL_SECONDS = 1.0
_SPACES = re.compile(r"\s+")

# Delete the lock only if we still hold it: it may have expired and been taken by another.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Computed:
    """What a computation returns: the value, whether it found nothing, whether it may be cached
    (a degraded answer, made while the LLM was failing, must not outlive the failure)."""

    value: Any
    empty: bool = False
    cacheable: bool = True


def normalise(text: str) -> str:
    """The form two questions share when they differ only in width, case or spacing."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


class TieredCache:
    def __init__(
        self,
        settings: Settings,
        redis: RedisClient,
        service: str,
        *,
        generation: Callable[[], Awaitable[str]],
        embedder: str,
    ) -> None:
        self.settings = settings
        self.enabled = settings.cache_enabled
        self._redis = redis
        self._service = service
        self._generation = generation
        self._embedder = embedder
        self._prefix = f"{settings.redis_key_prefix}cache:"
        self._flush_key = f"{self._prefix}flushes"
        self._ttl: dict[str, float] = {
            "qa": settings.cache_ttl_qa,
            "retrieval": settings.cache_ttl_retrieval,
            "entities": settings.cache_ttl_entities,
            "graph": settings.cache_ttl_graph,
        }
        self.l1 = TTLCache(settings.cache_max_size, on_evict=CACHE_EVICTIONS.labels(service).inc)
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._unlock = redis.register_script(_UNLOCK_LUA)
        self._breaker = CircuitBreaker(
            settings.cache_l2_breaker_failures,
            settings.cache_l2_breaker_reset_seconds,
            on_change=lambda state: CACHE_L2_BREAKER.labels(service).set(state),
        )
        self._flushes_seen: dict[str, str] = {}
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._lock_ms = int(settings.cache_lock_seconds * 1000)
        CACHE_L2_BREAKER.labels(service).set(BreakerState.CLOSED)

    # --- the one entry point -----------------------------------------------------------------

    async def get_or_compute(
        self, kind: Kind, parts: Any, compute: Callable[[], Awaitable[Computed]]
    ) -> tuple[Any, bool]:
        """(value, served_from_cache). `parts` is JSON-able and names the input completely."""
        if not self.enabled:
            return (await compute()).value, False
        key = await self.key(kind, parts)
        value = self.l1.get(key)
        if value is not MISSING:
            self._count(kind, "l1", "hit")
            return value, True
        self._count(kind, "l1", "miss")
        flight = self._flights.get(key)
        if flight is not None:
            CACHE_COALESCED.labels(self._service, kind, "worker").inc()
            # shield: one waiter giving up (client gone) must not cancel the computation for the rest.
            return await asyncio.shield(flight), True
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value, cached = await self._fetch(kind, key, compute)
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: an unawaited failure is not logged twice
            raise
        else:
            flight.set_result(value)
            return value, cached
        finally:
            del self._flights[key]
            CACHE_L1_ENTRIES.labels(self._service).set(len(self.l1))

    async def key(self, kind: Kind, parts: Any) -> str:
        generation = await self._generation()
        material = orjson.dumps([parts, generation, self._embedder], option=orjson.OPT_SORT_KEYS)
        return f"{kind}:{hashlib.blake2b(material, digest_size=16).hexdigest()}"

    # --- L2 and the cluster-wide single flight -------------------------------------------------

    async def _fetch(
        self, kind: Kind, key: str, compute: Callable[[], Awaitable[Computed]]
    ) -> tuple[Any, bool]:
        value = await self._l2_get(kind, key)
        if value is not MISSING:
            return value, True
        token = secrets.token_hex(8)
        lock = f"{self._prefix}lock:{key}"
        deadline = time.monotonic() + self.settings.cache_wait_seconds
        pause = 0.002
        counted = False
        # No usable Redis (breaker open) -> None: compute here, as the lock cannot coordinate anyone.
        while (held := await self._l2_call(self._acquire(lock, token))) is False:
            if not counted:
                CACHE_COALESCED.labels(self._service, kind, "cluster").inc()
                counted = True
            if time.monotonic() >= deadline:
                break  # the holder is too slow: compute here rather than keep the client waiting
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            value = await self._l2_get(kind, key, count=False)
            if value is not MISSING:
                return value, True
        try:
            if held:
                # Another holder may have stored the value and let go between our miss and our lock.
                value = await self._l2_get(kind, key, count=False)
                if value is not MISSING:
                    return value, True
            computed = await compute()
            CACHE_COMPUTES.labels(self._service, kind).inc()
            if computed.cacheable:
                await self._store(kind, key, computed)
            return computed.value, False
        finally:
            if held:
                await self._l2_call(self._unlock(keys=[lock], args=[token]))

    async def _acquire(self, lock: str, token: str) -> bool:
        # SET NX answers None when the key exists; None from _l2_call means "Redis unusable".
        return bool(await self._redis.set(lock, token, nx=True, px=self._lock_ms))

    async def _store(self, kind: Kind, key: str, computed: Computed) -> None:
        ttl = self.settings.cache_ttl_empty if computed.empty else self._ttl[kind]
        ttl *= 1 + random.uniform(-1, 1) * self.settings.cache_ttl_jitter  # noqa: S311 - spread, not secrecy
        self.l1.set(key, computed.value, ttl)
        payload = orjson.dumps(computed.value)
        if len(payload) > self.settings.cache_l2_max_bytes:
            CACHE_L2_SKIPPED.labels(self._service, "oversize").inc()
            return
        await self._l2_call(self._redis.set(f"{self._prefix}{key}", payload, px=int(ttl * 1000)))

    async def _l2_get(self, kind: Kind, key: str, *, count: bool = True) -> Any:
        found = await self._l2_call(self._get_with_ttl(f"{self._prefix}{key}"))
        raw, ttl_ms = found or (None, 0)
        if raw is None:
            if count:
                self._count(kind, "l2", "miss")
            return MISSING
        self._count(kind, "l2", "hit")
        value = orjson.loads(raw)
        self.l1.set(key, value, ttl_ms / 1000 if ttl_ms > 0 else 1.0)  # for the rest of its time in L2
        return value

    async def _get_with_ttl(self, name: str) -> tuple[bytes | None, int]:
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip for both
            pipe.get(name)
            pipe.pttl(name)
            raw, ttl_ms = await pipe.execute()
        return raw, int(ttl_ms)

    async def _l2_call(self, call: Awaitable[Any]) -> Any:
        """The call's result, or None when Redis is unusable (breaker open, error, timeout)."""
        ticket = self._breaker.admit()
        if ticket is None:
            with contextlib.suppress(Exception):
                call.close()  # type: ignore[attr-defined]  # an un-awaited coroutine: no warning
            CACHE_L2_SKIPPED.labels(self._service, "breaker").inc()
            return None
        try:
            async with asyncio.timeout(self.settings.cache_l2_timeout):
                result = await call
        except asyncio.CancelledError:
            self._breaker.release(ticket)
            raise
        except Exception as exc:
            self._breaker.record_failure(ticket)
            CACHE_L2_ERRORS.labels(self._service).inc()
            if self._breaker.state is BreakerState.OPEN:
                log.warning("L2 cache unavailable, serving from L1 only", extra={"error": type(exc).__name__})
            return None
        self._breaker.record_success(ticket)
        return result

    def _count(self, kind: str, tier: str, result: str) -> None:
        # The labelled counters are kept: labels() costs more than the increment, on every lookup.
        labels = (kind, tier, result)
        counter = self._counters.get(labels)
        if counter is None:
            counter = self._counters[labels] = CACHE_REQUESTS.labels(self._service, *labels)
        counter.inc()

    # --- administration ------------------------------------------------------------------------

    async def flush(self, kind: Kind | None) -> dict[str, Any]:
        """Empty one kind (or all) in L1 here, in L2, and (within a second) in every worker's L1."""
        names = [kind] if kind else list(KINDS)
        removed_l1 = sum(self.l1.remove_prefix(f"{name}:") for name in names)
        removed_l2 = 0
        for name in names:
            keys = [key async for key in self._scan(f"{self._prefix}{name}:*")]
            for start in range(0, len(keys), 500):
                removed_l2 += int(await self._l2_call(self._redis.unlink(*keys[start : start + 500])) or 0)
            stamp = await self._l2_call(self._redis.hincrby(self._flush_key, name, 1))
            if stamp is not None:
                self._flushes_seen[name] = str(stamp)
        CACHE_FLUSHES.labels(self._service, kind or "all").inc()
        CACHE_L1_ENTRIES.labels(self._service).set(len(self.l1))
        log.info("cache flushed", extra={"kind": kind or "all", "l1": removed_l1, "l2": removed_l2})
        return {"kind": kind or "all", "l1_removed": removed_l1, "l2_removed": removed_l2}

    async def _scan(self, pattern: str) -> AsyncIterator[str]:
        if self._breaker.state is BreakerState.OPEN:
            return
        try:
            async for key in self._redis.scan_iter(match=pattern, count=500):
                yield key.decode() if isinstance(key, bytes) else key
        except Exception:
            CACHE_L2_ERRORS.labels(self._service).inc()

    async def follow_flushes(self) -> None:
        """Clear this worker's L1 for a kind another worker flushed (polled: no Redis when idle)."""
        self._flushes_seen = await self._flush_stamps()  # the baseline: flushes before this worker
        while True:
            await asyncio.sleep(FLUSH_POLL_SECONDS)
            for name, stamp in (await self._flush_stamps()).items():
                if self._flushes_seen.get(name) != stamp:
                    self._flushes_seen[name] = stamp
                    self.l1.remove_prefix(f"{name}:")
            CACHE_L1_ENTRIES.labels(self._service).set(len(self.l1))

    async def _flush_stamps(self) -> dict[str, str]:
        stamps = await self._l2_call(self._redis.hgetall(self._flush_key)) or {}
        return {
            (name.decode() if isinstance(name, bytes) else name): (
                stamp.decode() if isinstance(stamp, bytes) else str(stamp)
            )
            for name, stamp in stamps.items()
        }

    @property
    def l2_state(self) -> str:
        return self._breaker.state.name.lower()


@contextlib.asynccontextmanager
async def cache_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The worker's tiered cache, keyed by the knowledge layer's generation (after knowledge_lifespan)."""
    settings: Settings = app.state.settings
    knowledge = app.state.knowledge
    cache = TieredCache(
        settings,
        app.state.redis,
        app.state.service,
        generation=knowledge.current_generation,
        embedder=knowledge.retrieval_identity,
    )
    app.state.cache = cache
    follower = asyncio.create_task(cache.follow_flushes())
    try:
        yield
    finally:
        follower.cancel()
