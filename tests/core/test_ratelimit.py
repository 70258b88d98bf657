"""Rate limits hold across all workers, answer 429 in the error shape, and survive Redis outages."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from backend.core.config import Settings
from backend.core.ratelimit import RateLimiter
from backend.core.redis import create_redis
from backend.devstack.processes import free_port
from backend.devstack.redis_server import LocalRedis
from tests.conftest import KEY_PREFIX, StartService


def _get_fresh_connection(url: str) -> httpx.Response:
    # A new connection per request lets the kernel spread requests over all workers.
    with httpx.Client(timeout=10) as client:
        return client.get(url)


def test_limit_of_n_lets_exactly_n_through_across_four_workers(start_service: StartService) -> None:
    service = start_service(RATE_LIMIT_DEFAULT="7/minute")
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(_get_fresh_connection, [f"{service.url}/api/v1/ping"] * 40))

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 7
    assert statuses.count(429) == 33
    assert len({r.headers["x-request-id"] for r in responses}) == 40
    assert len(service.worker_pids()) == 4

    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "7"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    allowed = next(r for r in responses if r.status_code == 200)
    assert allowed.headers["x-ratelimit-limit"] == "7"
    assert service.metric("medqa_rate_limited_total", limit="default") == 33


def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_key(start_service: StartService) -> None:
    # The peer 127.0.0.1 is not trusted here, so X-Forwarded-For must be ignored.
    service = start_service(RATE_LIMIT_DEFAULT="3/minute", FORWARDED_ALLOW_IPS="10.255.255.1", WORKERS="2")
    statuses = [
        httpx.get(f"{service.url}/api/v1/ping", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(6)
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_gives_each_client_its_own_limit(
    start_service: StartService,
) -> None:
    service = start_service(RATE_LIMIT_DEFAULT="2/minute", FORWARDED_ALLOW_IPS="127.0.0.1", WORKERS="2")
    url = f"{service.url}/api/v1/ping"
    first = [httpx.get(url, headers={"X-Forwarded-For": "198.51.100.1"}).status_code for _ in range(3)]
    second = [httpx.get(url, headers={"X-Forwarded-For": "198.51.100.2"}).status_code for _ in range(3)]
    assert first == [200, 200, 429]
    assert second == [200, 200, 429]


def test_redis_down_falls_back_to_memory_and_recovers(
    start_service: StartService, private_redis: LocalRedis
) -> None:
    service = start_service(
        REDIS_URL=private_redis.url,
        RATE_LIMIT_DEFAULT="1000/minute",
        RATE_LIMIT_RECHECK_SECONDS="0.5",
        # Every hit asks Redis: far from the limit, hits would otherwise be counted in the worker for
        # up to 100 ms and some would never meet the outage this test is about.
        RATE_LIMIT_SYNC_SECONDS="0",
        WORKERS="1",
    )
    url = f"{service.url}/api/v1/ping"
    assert httpx.get(url).status_code == 200
    private_redis.stop()

    during = [httpx.get(url, timeout=5) for _ in range(5)]
    assert [r.status_code for r in during] == [200] * 5
    assert all("x-ratelimit-remaining" in r.headers for r in during)
    assert service.metric("medqa_rate_limit_memory_fallback_total") >= 5
    assert service.metric("medqa_redis_errors_total", operation="rate_limit") >= 1
    assert "rate-limit storage unavailable" in service.log()

    private_redis.start()
    time.sleep(0.6)
    fallback_before = service.metric("medqa_rate_limit_memory_fallback_total")
    assert httpx.get(url).status_code == 200
    assert service.metric("medqa_rate_limit_memory_fallback_total") == fallback_before


def test_far_from_the_limit_hits_are_counted_in_batches_and_none_is_lost(shared_redis: str) -> None:
    async def scenario() -> tuple[int, int, int, list[bool]]:
        settings = Settings(
            redis_key_prefix=f"{KEY_PREFIX}batch-{time.monotonic()}:",
            rate_limit_default="1000/minute",
            rate_limit_sync_seconds=0.2,
        )
        redis = create_redis(settings)
        limiter = RateLimiter(redis, settings, "test")
        key = f"{settings.redis_key_prefix}test:rl:default:/ping:198.51.100.7"
        try:
            allowed = [(await limiter.hit("default", "/ping", "198.51.100.7")).allowed for _ in range(50)]
            in_redis_at_once = int(await redis.get(key) or 0)
            await asyncio.sleep(0.25)  # past the sync interval: the next hit carries the others
            await limiter.hit("default", "/ping", "198.51.100.7")
            in_redis_after = int(await redis.get(key) or 0)
            remaining = (await limiter.hit("default", "/ping", "198.51.100.7")).remaining
        finally:
            await redis.aclose()
        return in_redis_at_once, in_redis_after, remaining, allowed

    at_once, after, remaining, allowed = asyncio.run(scenario())
    assert all(allowed)
    assert at_once < 50  # most hits were answered without a Redis round trip...
    assert after == 51  # ...and every one of them was counted with the next sync
    assert remaining == 1000 - 52


def test_hits_during_a_sync_wait_for_no_round_trip_of_their_own_and_none_is_lost(shared_redis: str) -> None:
    async def scenario() -> tuple[int, int, list[bool]]:
        settings = Settings(
            redis_key_prefix=f"{KEY_PREFIX}inflight-{time.monotonic()}:",
            rate_limit_default="1000/minute",
            rate_limit_sync_seconds=0.2,
        )
        redis = create_redis(settings)
        limiter = RateLimiter(redis, settings, "test")
        key = f"{settings.redis_key_prefix}test:rl:default:/ping:198.51.100.8"
        try:
            await limiter.hit("default", "/ping", "198.51.100.8")  # the window, as this worker sees it
            await asyncio.sleep(0.25)  # stale: the next hit syncs, and the 29 concurrent with it...
            decisions = await asyncio.gather(
                *(limiter.hit("default", "/ping", "198.51.100.8") for _ in range(30))
            )
            in_redis_at_once = int(await redis.get(key) or 0)
            await asyncio.sleep(0.25)
            await limiter.hit("default", "/ping", "198.51.100.8")  # ...go with this sync
            in_redis_after = int(await redis.get(key) or 0)
        finally:
            await redis.aclose()
        return in_redis_at_once, in_redis_after, [d.allowed for d in decisions]

    at_once, after, allowed = asyncio.run(scenario())
    assert all(allowed)
    assert at_once == 2  # the first hit and the syncing one: the others made no round trip...
    assert after == 32  # ...and were counted with the next sync


def test_without_redis_each_worker_still_enforces_the_limit_in_its_own_windows() -> None:
    async def scenario() -> list[tuple[bool, int]]:
        settings = Settings(
            redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens: Redis is down
            redis_key_prefix=f"{KEY_PREFIX}down-{time.monotonic()}:",
            rate_limit_default="3/minute",
        )
        redis = create_redis(settings)
        limiter = RateLimiter(redis, settings, "test")
        try:
            decisions = [await limiter.hit("default", "/ping", "198.51.100.9") for _ in range(5)]
            other_client = await limiter.hit("default", "/ping", "198.51.100.10")
        finally:
            await redis.aclose()
        assert limiter.degraded
        assert 1 <= min(d.reset_after for d in decisions) <= 60
        return [(d.allowed, d.remaining) for d in [*decisions, other_client]]

    assert asyncio.run(scenario()) == [(True, 2), (True, 1), (True, 0), (False, 0), (False, 0), (True, 2)]
