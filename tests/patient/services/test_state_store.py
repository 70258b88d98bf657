"""The session store against real Redis: token checks, sliding expiry, races, outages, old/new formats."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
import pytest

from backend.core.config import Settings
from backend.core.redis import RedisClient, create_redis
from backend.devstack.redis_server import LocalRedis
from backend.patient.services.state_store import (
    SCHEMA_VERSION,
    ConcurrentUpdate,
    SessionNotFound,
    SessionStore,
    StoreUnavailable,
    UnsupportedSchema,
)
from tests.conftest import KEY_PREFIX, SHARED_REDIS_URL


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run, as the rest of the suite does (no pytest plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def client_for(url: str = SHARED_REDIS_URL) -> RedisClient:
    # Few retries and short timeouts so the outage tests fail fast instead of waiting on backoff.
    settings = Settings(redis_url=url, redis_retries=1, redis_connect_timeout=1.0, redis_socket_timeout=2.0)
    return create_redis(settings)


class Env:
    """A store on its own key prefix, plus a raw client to inspect what it wrote."""

    def __init__(self, store: SessionStore, raw: RedisClient, prefix: str) -> None:
        self.store = store
        self.raw = raw
        self.prefix = prefix

    def key(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    async def document(self, session_id: str) -> dict[str, Any]:
        stored = await self.raw.get(self.key(session_id))
        assert stored is not None
        document: dict[str, Any] = orjson.loads(stored)
        return document


@asynccontextmanager
async def environment(
    url: str = SHARED_REDIS_URL, *, ttl_seconds: int = 60, max_history: int = 100, max_retries: int = 20
) -> AsyncIterator[Env]:
    prefix = f"{KEY_PREFIX}state-store-{uuid.uuid4().hex[:8]}:"
    client = client_for(url)
    store = SessionStore(
        client, prefix=prefix, ttl_seconds=ttl_seconds, max_history=max_history, max_retries=max_retries
    )
    try:
        yield Env(store, client, prefix)
    finally:
        await client.aclose()


def appender(item: Any) -> Callable[[dict[str, Any]], Coroutine[Any, Any, Any]]:
    async def change(state: dict[str, Any]) -> Any:
        state.setdefault("history", []).append(item)
        return item

    return change


@synchronous
async def test_create_then_load_round_trips_and_stores_only_the_token_hash() -> None:
    state = {"lang": "zh", "history": [{"role": "patient", "text": "头痛三天"}], "answers": {"age": 34}}
    async with environment() as env:
        session_id, token = await env.store.create(state)
        assert len(session_id) == 22
        assert len(token) >= 43
        assert await env.store.load(session_id, token) == state

        stored = await env.raw.get(env.key(session_id))
        assert stored is not None
        assert token.encode() not in stored
        document = orjson.loads(stored)
        assert document["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
        assert document["schema"] == SCHEMA_VERSION == 2
        assert document["version"] == 1
        assert document["state"] == state
        assert abs(document["created_at"] - time.time()) < 60
        assert document["updated_at"] == document["created_at"]
        assert 0 < await env.raw.ttl(env.key(session_id)) <= 60
        assert await env.store.version(session_id, token) == 1


@synchronous
async def test_two_sessions_get_different_ids_and_tokens() -> None:
    async with environment() as env:
        first = await env.store.create({"n": 1})
        second = await env.store.create({"n": 2})
        assert first[0] != second[0]
        assert first[1] != second[1]
        assert await env.store.load(*first) == {"n": 1}
        assert await env.store.load(*second) == {"n": 2}
        with pytest.raises(SessionNotFound):
            await env.store.load(first[0], second[1])


@synchronous
async def test_a_wrong_token_and_an_unknown_id_look_the_same() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": []})
        unknown = secrets.token_urlsafe(16)
        errors = []
        for sid, tok in [
            (session_id, token + "x"),
            (session_id, ""),
            (session_id, "\ud800"),
            (unknown, token),
        ]:
            with pytest.raises(SessionNotFound) as caught:
                await env.store.load(sid, tok)
            errors.append(str(caught.value))
            with pytest.raises(SessionNotFound):
                await env.store.update(sid, tok, appender("intruder"))
            with pytest.raises(SessionNotFound):
                await env.store.delete(sid, tok)
            with pytest.raises(SessionNotFound):
                await env.store.version(sid, tok)
        # The message must not reveal which of the two cases it was.
        assert len(set(errors)) == 1
        assert await env.store.load(session_id, token) == {"history": []}
        assert await env.store.version(session_id, token) == 1


class Untouchable:
    """Stands in for the Redis client and fails the test on any use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Redis was used: {name}")


@pytest.mark.parametrize(
    "session_id",
    [
        "",
        "short",
        "a" * 21,
        "a" * 23,
        "a" * 21 + "*",
        "a" * 21 + "\n",
        "../../" + "a" * 16,
        "é" * 22,
        "a b" * 7 + "a",
    ],
)
@synchronous
async def test_a_malformed_id_is_refused_before_redis(session_id: str) -> None:
    store = SessionStore(cast(RedisClient, Untouchable()), prefix="p:", ttl_seconds=60, max_history=10)
    token = secrets.token_urlsafe(32)
    with pytest.raises(SessionNotFound):
        await store.load(session_id, token)
    with pytest.raises(SessionNotFound):
        await store.update(session_id, token, appender(1))
    with pytest.raises(SessionNotFound):
        await store.delete(session_id, token)
    with pytest.raises(SessionNotFound):
        await store.version(session_id, token)


@synchronous
async def test_loading_keeps_a_session_alive_and_an_untouched_one_expires() -> None:
    async with environment(ttl_seconds=2) as env:
        used = await env.store.create({"n": "used"})
        untouched = await env.store.create({"n": "untouched"})
        probed = await env.store.create({"n": "probed with a wrong token"})
        await asyncio.sleep(1.2)
        assert await env.store.load(*used) == {"n": "used"}
        # Only the holder of the token may extend a session's life.
        with pytest.raises(SessionNotFound):
            await env.store.load(probed[0], "wrong")
        await asyncio.sleep(1.1)
        # 2.3 s after creation: past the 2 s TTL, but only 1.1 s after the load refreshed it.
        assert await env.store.load(*used) == {"n": "used"}
        with pytest.raises(SessionNotFound):
            await env.store.load(*untouched)
        with pytest.raises(SessionNotFound):
            await env.store.load(*probed)
        assert await env.raw.exists(env.key(untouched[0])) == 0


@synchronous
async def test_fifty_concurrent_updates_all_land() -> None:
    # Generous retries: 50 writers on one key is far more contention than one patient creates.
    async with environment(max_retries=200) as env:
        session_id, token = await env.store.create({"history": []})
        calls = 0

        def adding(number: int) -> Callable[[dict[str, Any]], Coroutine[Any, Any, int]]:
            async def change(state: dict[str, Any]) -> int:
                nonlocal calls
                calls += 1
                history = state["history"]
                await asyncio.sleep(0)  # let the other writers read the same version meanwhile
                history.append(number)
                return number * 10

            return change

        outcomes = await asyncio.gather(*(env.store.update(session_id, token, adding(n)) for n in range(50)))

        assert [result for _, result in outcomes] == [n * 10 for n in range(50)]
        for number, (state, _) in enumerate(outcomes):
            assert number in state["history"]
        final = await env.store.load(session_id, token)
        assert sorted(final["history"]) == list(range(50))
        assert await env.store.version(session_id, token) == 51
        # Proof that the writers really collided and the losers re-ran on fresh state.
        assert calls > 50


@synchronous
async def test_updates_through_two_separate_clients_all_land() -> None:
    async with environment(max_retries=200) as env:
        other_client = client_for()
        try:
            other = SessionStore(
                other_client, prefix=env.prefix, ttl_seconds=60, max_history=100, max_retries=200
            )
            session_id, token = await env.store.create({"history": []})
            updates = [
                (env.store if n % 2 else other).update(session_id, token, appender(n)) for n in range(50)
            ]
            await asyncio.gather(*updates)
            assert sorted((await other.load(session_id, token))["history"]) == list(range(50))
            assert await env.store.version(session_id, token) == 51
        finally:
            await other_client.aclose()


@synchronous
async def test_history_is_trimmed_to_the_latest_items() -> None:
    async with environment(max_history=5) as env:
        session_id, token = await env.store.create({"history": [], "notes": list(range(20))})
        for number in range(8):
            state, _ = await env.store.update(session_id, token, appender(number))
        assert state["history"] == [3, 4, 5, 6, 7]
        stored = await env.store.load(session_id, token)
        assert stored["history"] == [3, 4, 5, 6, 7]
        assert stored["notes"] == list(range(20))  # only "history" is bounded

    async with environment(max_history=0) as env:
        session_id, token = await env.store.create({"history": [1, 2]})
        state, _ = await env.store.update(session_id, token, appender(3))
        assert state["history"] == []

    async with environment(max_history=2) as env:
        session_id, token = await env.store.create({"history": "not a list"})

        async def touch(state: dict[str, Any]) -> None:
            state["touched"] = True

        state, result = await env.store.update(session_id, token, touch)
        assert result is None
        assert state == {"history": "not a list", "touched": True}


@synchronous
async def test_update_returns_the_new_state_and_bumps_version_and_expiry() -> None:
    async with environment(ttl_seconds=30) as env:
        session_id, token = await env.store.create({"step": 1})
        created = await env.document(session_id)
        await env.raw.expire(env.key(session_id), 5)

        async def advance(state: dict[str, Any]) -> str:
            state["step"] += 1
            return "advanced"

        state, result = await env.store.update(session_id, token, advance)
        assert (state, result) == ({"step": 2}, "advanced")
        document = await env.document(session_id)
        assert document["version"] == 2
        assert document["created_at"] == created["created_at"]
        assert document["updated_at"] >= created["updated_at"]
        assert document["token_sha256"] == created["token_sha256"]
        assert await env.raw.ttl(env.key(session_id)) > 5


@synchronous
async def test_a_failing_change_writes_nothing() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": [1]})
        before = await env.raw.get(env.key(session_id))

        async def broken(state: dict[str, Any]) -> None:
            state["history"].append(2)
            raise OSError("the change's own failure, not a Redis outage")

        with pytest.raises(OSError, match="own failure") as caught:
            await env.store.update(session_id, token, broken)
        assert not isinstance(caught.value, StoreUnavailable)
        assert await env.raw.get(env.key(session_id)) == before


@synchronous
async def test_delete_removes_the_session() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": []})
        with pytest.raises(SessionNotFound):
            await env.store.delete(session_id, "wrong")
        assert await env.raw.exists(env.key(session_id)) == 1
        await env.store.delete(session_id, token)
        assert await env.raw.exists(env.key(session_id)) == 0
        with pytest.raises(SessionNotFound):
            await env.store.load(session_id, token)
        with pytest.raises(SessionNotFound):
            await env.store.delete(session_id, token)


@synchronous
async def test_a_session_deleted_during_an_update_is_not_recreated() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": []})
        calls = 0

        async def delete_meanwhile(state: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            await env.raw.delete(env.key(session_id))
            state["history"].append("late")

        with pytest.raises(SessionNotFound):
            await env.store.update(session_id, token, delete_meanwhile)
        assert calls == 1
        assert await env.raw.exists(env.key(session_id)) == 0


@synchronous
async def test_losing_every_race_gives_concurrent_update_and_writes_nothing_of_ours() -> None:
    async with environment(max_retries=3) as env:
        session_id, token = await env.store.create({"history": []})
        calls = 0

        async def always_overtaken(state: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            # Another writer touches the key after our read, every time.
            await env.raw.set(
                env.key(session_id), await env.raw.get(env.key(session_id)) or b"", keepttl=True
            )
            state["history"].append("ours")

        with pytest.raises(ConcurrentUpdate):
            await env.store.update(session_id, token, always_overtaken)
        assert calls == 3
        assert await env.store.load(session_id, token) == {"history": []}
        assert await env.store.version(session_id, token) == 1


@synchronous
async def test_an_outage_gives_store_unavailable_and_a_restart_recovers(private_redis: LocalRedis) -> None:
    async with environment(private_redis.url) as env:
        session_id, token = await env.store.create({"history": []})
        await env.store.update(session_id, token, appender("saved"))
        calls = 0

        async def counted(state: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            state["history"].append("during outage")

        await asyncio.to_thread(private_redis.stop)
        with pytest.raises(StoreUnavailable):
            await env.store.load(session_id, token)
        with pytest.raises(StoreUnavailable):
            await env.store.update(session_id, token, counted)
        with pytest.raises(StoreUnavailable):
            await env.store.create({"history": []})
        with pytest.raises(StoreUnavailable):
            await env.store.delete(session_id, token)
        with pytest.raises(StoreUnavailable):
            await env.store.version(session_id, token)
        assert calls == 0  # the change never ran against state it could not save

        await asyncio.to_thread(private_redis.start)
        # The AOF brought the last successful write back, and the same client reconnects by itself.
        assert await env.store.load(session_id, token) == {"history": ["saved"]}
        assert await env.store.version(session_id, token) == 2
        await env.store.update(session_id, token, appender("after restart"))
        assert await env.store.load(session_id, token) == {"history": ["saved", "after restart"]}
        fresh = await env.store.create({"history": []})
        assert await env.store.load(*fresh) == {"history": []}


@pytest.mark.parametrize("back_at_once", [False, True], ids=["stays-down", "restarts-at-once"])
@synchronous
async def test_an_update_in_flight_when_redis_dies_changes_nothing(
    private_redis: LocalRedis, back_at_once: bool
) -> None:
    async with environment(private_redis.url) as env:
        session_id, token = await env.store.create({"history": []})
        await env.store.update(session_id, token, appender("saved"))
        before = await env.raw.get(env.key(session_id))
        calls = 0

        async def redis_dies_meanwhile(state: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            state["history"].append("lost")
            await asyncio.to_thread(private_redis.stop)
            if back_at_once:
                await asyncio.to_thread(private_redis.start)

        with pytest.raises(StoreUnavailable):
            await env.store.update(session_id, token, redis_dies_meanwhile)
        # Not re-run even when Redis is back: a connection lost around EXEC leaves the store unsure
        # whether the write landed, and running the change again could apply it twice.
        assert calls == 1

        if not back_at_once:
            await asyncio.to_thread(private_redis.start)
        assert await env.raw.get(env.key(session_id)) == before
        assert await env.store.load(session_id, token) == {"history": ["saved"]}
        assert await env.store.version(session_id, token) == 2


async def plant(env: Env, document: dict[str, Any]) -> tuple[str, str]:
    """Write a session document by hand, as another release of the code might have."""
    session_id, token = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
    document = {"token_sha256": hashlib.sha256(token.encode()).hexdigest(), **document}
    await env.raw.set(env.key(session_id), orjson.dumps(document), ex=60)
    return session_id, token


@synchronous
async def test_a_document_from_a_newer_schema_is_refused_and_left_alone() -> None:
    async with environment() as env:
        newer = {"schema": 99, "version": 4, "created_at": 1.0, "updated_at": 2.0, "state": {"history": []}}
        session_id, token = await plant(env, newer)
        before = await env.raw.get(env.key(session_id))
        with pytest.raises(UnsupportedSchema, match="99"):
            await env.store.load(session_id, token)
        with pytest.raises(UnsupportedSchema, match="99"):
            await env.store.update(session_id, token, appender("x"))
        with pytest.raises(UnsupportedSchema):
            await env.store.version(session_id, token)
        with pytest.raises(UnsupportedSchema):
            await env.store.delete(session_id, token)
        assert await env.raw.get(env.key(session_id)) == before
        assert issubclass(UnsupportedSchema, RuntimeError)


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1, "state": {}},  # no schema number
        {"schema": "1", "version": 1, "state": {}},
        {"schema": 0, "version": 1, "state": {}},  # older than any upgrader knows
        {"schema": 1, "version": 1, "state": ["not", "a", "dict"]},
        {"schema": 1, "state": {}},  # no version
    ],
)
@synchronous
async def test_an_unreadable_document_is_refused(document: dict[str, Any]) -> None:
    async with environment() as env:
        session_id, token = await plant(env, document)
        with pytest.raises(UnsupportedSchema):
            await env.store.load(session_id, token)


@synchronous
async def test_a_document_of_the_current_schema_written_by_hand_is_read() -> None:
    async with environment() as env:
        current = {
            "schema": SCHEMA_VERSION,
            "version": 3,
            "created_at": 1.0,
            "updated_at": 2.0,
            "state": {"history": [1]},
        }
        session_id, token = await plant(env, current)
        assert await env.store.load(session_id, token) == {"history": [1]}
        await env.store.update(session_id, token, appender(2))
        assert await env.store.version(session_id, token) == 4


class _ClosedTransport:
    """A client whose socket asyncio has closed under it, as after a Sentinel failover."""

    def __init__(self, real: RedisClient) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        return await self.get()


@synchronous
async def test_a_closed_transport_is_an_outage_not_a_crash() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": ["saved"]})
        broken = SessionStore(
            cast(RedisClient, _ClosedTransport(env.raw)), prefix=env.prefix, ttl_seconds=60, max_history=100
        )
        with pytest.raises(StoreUnavailable):
            await broken.load(session_id, token)
        with pytest.raises(StoreUnavailable):
            await broken.create({"history": []})
        with pytest.raises(StoreUnavailable):
            await broken.delete(session_id, token)
        assert await env.store.load(session_id, token) == {"history": ["saved"]}


@synchronous
async def test_a_change_raising_runtime_error_is_not_taken_for_an_outage() -> None:
    async with environment() as env:
        session_id, token = await env.store.create({"history": []})

        async def buggy(state: dict[str, Any]) -> None:
            raise RuntimeError("a bug in the change, not Redis")

        with pytest.raises(RuntimeError, match="a bug") as caught:
            await env.store.update(session_id, token, buggy)
        assert not isinstance(caught.value, StoreUnavailable)
