"""The tiered cache against real Redis: what the QA routes rely on."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from backend.core.cache.tiered import Computed, TieredCache, normalise
from backend.core.config import Settings
from backend.core.redis import create_redis
from backend.devstack.redis_server import LocalRedis
from tests.conftest import KEY_PREFIX


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run, as the rest of the suite does (no pytest plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Generation:
    """Stands in for the knowledge layer's generation, so a test can 'change the knowledge base'."""

    def __init__(self) -> None:
        self.value = "g1"

    async def __call__(self) -> str:
        return self.value


class Counter:
    def __init__(self, value: Any = "answer", delay: float = 0.0, **flags: bool) -> None:
        self.calls = 0
        self.value = value
        self.delay = delay
        self.flags = flags

    async def __call__(self) -> Computed:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return Computed(self.value, **self.flags)


@asynccontextmanager
async def workers(
    count: int = 1, generation: Generation | None = None, redis_url: str | None = None, **overrides: Any
) -> AsyncIterator[list[TieredCache]]:
    """`count` caches as separate workers would hold them: own L1, own pool, one shared Redis."""
    prefix = f"{KEY_PREFIX}{id(overrides)}-{asyncio.get_running_loop().time()}:"
    options: dict[str, Any] = {"redis_key_prefix": prefix, **overrides}
    if redis_url:
        options["redis_url"] = redis_url
    settings = Settings(**options)
    generation = generation or Generation()
    clients = [create_redis(settings) for _ in range(count)]
    caches = [TieredCache(settings, c, "test", generation=generation, embedder="hashing-v1") for c in clients]
    try:
        yield caches
    finally:
        for client in clients:
            await client.aclose()


@synchronous
async def test_a_second_ask_is_served_from_l1_without_computing() -> None:
    async with workers() as [cache]:
        compute = Counter()
        assert await cache.get_or_compute("qa", ["q"], compute) == ("answer", False)
        assert await cache.get_or_compute("qa", ["q"], compute) == ("answer", True)
        assert compute.calls == 1


@synchronous
async def test_another_worker_is_served_from_l2_and_fills_its_l1() -> None:
    async with workers(2) as [one, other]:
        compute = Counter({"answer": "高血压"})
        await one.get_or_compute("qa", ["q"], compute)
        assert await other.get_or_compute("qa", ["q"], compute) == ({"answer": "高血压"}, True)
        assert compute.calls == 1
        assert len(other.l1) == 1


@synchronous
async def test_concurrent_identical_misses_compute_once_in_a_worker_and_across_workers() -> None:
    async with workers(3) as caches:
        compute = Counter(delay=0.05)
        results = await asyncio.gather(
            *(caches[i % 3].get_or_compute("qa", ["q"], compute) for i in range(60))
        )
        assert compute.calls == 1
        assert all(value == "answer" for value, _ in results)
        assert sum(not cached for _, cached in results) == 1


@synchronous
async def test_a_knowledge_base_change_makes_the_next_identical_question_miss() -> None:
    generation = Generation()
    async with workers(2, generation) as [one, other]:
        compute = Counter()
        await one.get_or_compute("qa", ["q"], compute)
        generation.value = "g2"
        assert await other.get_or_compute("qa", ["q"], compute) == ("answer", False)
        assert await one.get_or_compute("qa", ["q"], compute) == ("answer", True)  # the new entry
        assert compute.calls == 2


@synchronous
async def test_empty_results_are_kept_briefly_and_degraded_ones_not_at_all() -> None:
    async with workers(cache_ttl_empty=0.2, cache_ttl_jitter=0) as [cache]:
        empty = Counter(None, empty=True)
        await cache.get_or_compute("qa", ["nothing"], empty)
        await cache.get_or_compute("qa", ["nothing"], empty)
        assert empty.calls == 1  # a repeated miss does not reach the stores again...
        await asyncio.sleep(0.3)
        await cache.get_or_compute("qa", ["nothing"], empty)
        assert empty.calls == 2  # ...but only for CACHE_TTL_EMPTY
        degraded = Counter("fallback", cacheable=False)
        await cache.get_or_compute("qa", ["llm down"], degraded)
        await cache.get_or_compute("qa", ["llm down"], degraded)
        assert degraded.calls == 2


@synchronous
async def test_values_above_the_size_cap_stay_out_of_l2() -> None:
    async with workers(2, cache_l2_max_bytes=1024) as [one, other]:
        compute = Counter("x" * 5000)
        await one.get_or_compute("qa", ["big"], compute)
        assert await one.get_or_compute("qa", ["big"], compute) == ("x" * 5000, True)  # still in L1
        await other.get_or_compute("qa", ["big"], compute)
        assert compute.calls == 2


@synchronous
async def test_ttls_are_jittered() -> None:
    async with workers(cache_ttl_qa=100, cache_ttl_jitter=0.1) as [cache]:
        for n in range(20):
            await cache.get_or_compute("qa", [n], Counter())
        ttls = [await cache._redis.pttl(f"{cache._prefix}{await cache.key('qa', [n])}") for n in range(20)]
        assert all(90_000 <= ttl <= 110_000 for ttl in ttls)
        assert len(set(ttls)) > 10


@synchronous
async def test_flushing_one_kind_leaves_the_others() -> None:
    async with workers(2) as [one, other]:
        qa, graph = Counter(), Counter()
        await one.get_or_compute("qa", ["q"], qa)
        await one.get_or_compute("graph", ["高血压"], graph)
        result = await one.flush("qa")
        assert result["l1_removed"] == 1
        assert result["l2_removed"] == 1
        await other.get_or_compute("qa", ["q"], qa)
        await other.get_or_compute("graph", ["高血压"], graph)
        assert (qa.calls, graph.calls) == (2, 1)


@synchronous
async def test_redis_down_keeps_answers_coming_from_l1_and_l2_returns_by_itself(
    private_redis: LocalRedis,
) -> None:
    overrides: dict[str, Any] = {
        "cache_l2_breaker_reset_seconds": 0.3,
        "redis_retries": 0,
        "cache_l2_timeout": 0.5,
    }
    async with workers(1, redis_url=private_redis.url, **overrides) as [cache]:
        hot = Counter("hot")
        await cache.get_or_compute("qa", ["hot"], hot)
        private_redis.stop()
        for n in range(5):  # errors open the breaker; nothing reaches the caller
            assert (await cache.get_or_compute("qa", [f"cold {n}"], Counter("cold")))[0] == "cold"
        assert cache.l2_state == "open"
        assert await cache.get_or_compute("qa", ["hot"], hot) == ("hot", True)  # L1 keeps serving
        private_redis.start()
        await asyncio.sleep(0.4)
        fresh = Counter("fresh")
        await cache.get_or_compute("qa", ["after"], fresh)
        assert cache.l2_state == "closed"
        assert await cache._redis.get(f"{cache._prefix}{await cache.key('qa', ['after'])}") == b'"fresh"'


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("高血压有哪些症状？", "  高血压有哪些症状？ "),
        ("What is Asthma?", "what is  asthma?"),
        ("ＡＢＣ", "abc"),
    ],
)
def test_questions_that_differ_only_in_spacing_case_or_width_share_a_key(one: str, other: str) -> None:
    assert normalise(one) == normalise(other)
