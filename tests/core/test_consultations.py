"""The consultation inbox against the real Redis: what the patient and doctor services rely on."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from backend.core.config import Settings
from backend.core.consultations import STATUSES, ConsultationStore, StoreUnavailable
from backend.core.redis import RedisClient, create_redis
from backend.devstack.processes import free_port
from tests.conftest import KEY_PREFIX


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run, as the rest of the suite does (no pytest plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@dataclass
class Inbox:
    store: ConsultationStore
    redis: RedisClient
    prefix: str

    def record_key(self, record_id: str) -> str:
        return f"{self.prefix}{{consultations}}:rec:{record_id}"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}{{consultations}}:index"


@asynccontextmanager
async def inbox(retention_seconds: int = 3600, **overrides: Any) -> AsyncIterator[Inbox]:
    """A store with a key space of its own, so no test sees another's records."""
    prefix = f"{KEY_PREFIX}consult-{uuid.uuid4().hex[:8]}:"
    client = create_redis(Settings(**overrides))
    try:
        store = ConsultationStore(client, prefix=prefix, retention_seconds=retention_seconds)
        yield Inbox(store, client, prefix)
    finally:
        await client.aclose()


def summary(n: int = 0) -> dict[str, Any]:
    return {"chief_complaint": f"头痛 {n} 天", "symptoms": ["headache", "nausea"], "allergies": [], "n": n}


@synchronous
async def test_submit_then_get_round_trips_without_exposing_the_session() -> None:
    session_id = "patient-session-" + uuid.uuid4().hex
    session_hash = hashlib.sha256(session_id.encode()).hexdigest()
    async with inbox() as box:
        created = await box.store.submit(summary(1), department="neurology", session_id=session_id)
        fetched = await box.store.get(created["id"])

        assert fetched == created
        assert fetched["status"] == "new"
        assert fetched["department"] == "neurology"
        assert fetched["summary"] == summary(1)
        assert fetched["created_at"] == fetched["updated_at"]
        assert set(fetched) == {"id", "created_at", "updated_at", "status", "department", "summary"}
        items, _ = await box.store.list()
        for shown in (created, fetched, items[0]):
            text = orjson.dumps(shown).decode()
            assert session_id not in text
            assert session_hash not in text
        raw = await box.redis.get(box.record_key(created["id"]))
        assert raw is not None
        assert session_id.encode() not in raw  # stored only as its hash
        assert orjson.loads(raw)["session_sha256"] == session_hash


@synchronous
async def test_list_is_newest_first_and_paged() -> None:
    async with inbox() as box:
        ids = [
            (await box.store.submit(summary(n), department="cardio", session_id="s"))["id"] for n in range(5)
        ]
        newest_first = ids[::-1]

        pages = [await box.store.list(page=page, page_size=2) for page in (1, 2, 3, 4)]

        assert [[item["id"] for item in items] for items, _ in pages] == [
            newest_first[0:2],
            newest_first[2:4],
            newest_first[4:5],
            [],
        ]
        assert [total for _, total in pages] == [5, 5, 5, 5]
        with pytest.raises(ValueError, match="page"):
            await box.store.list(page=0)
        with pytest.raises(ValueError, match="page_size"):
            await box.store.list(page_size=0)


@synchronous
async def test_list_filters_by_department_and_status() -> None:
    async with inbox() as box:
        cardio = [
            (await box.store.submit(summary(n), department="cardio", session_id="a"))["id"] for n in range(3)
        ]
        neuro = [
            (await box.store.submit(summary(n), department="neuro", session_id="b"))["id"] for n in range(2)
        ]
        await box.store.set_status(cardio[0], "seen")
        await box.store.set_status(neuro[1], "done")

        items, total = await box.store.list(department="cardio")
        assert (total, [i["id"] for i in items]) == (3, cardio[::-1])
        items, total = await box.store.list(status="new")
        assert (total, [i["id"] for i in items]) == (3, [neuro[0], cardio[2], cardio[1]])
        items, total = await box.store.list(department="neuro", status="done")
        assert (total, [i["id"] for i in items]) == (1, [neuro[1]])
        assert await box.store.list(department="cardio", status="done") == ([], 0)
        assert await box.store.list(department="dermatology") == ([], 0)


@synchronous
async def test_set_status_persists_and_keeps_the_ttl() -> None:
    async with inbox(retention_seconds=3600) as box:
        created = await box.store.submit(summary(), department="cardio", session_id="s")
        for status in ("seen", "done"):
            changed = await box.store.set_status(created["id"], status)
            assert changed is not None
            assert changed["status"] == status
            assert changed["updated_at"] >= created["created_at"]
            fetched = await box.store.get(created["id"])
            assert fetched == changed
            assert fetched["summary"] == created["summary"]  # empty lists stay lists
            ttl = await box.redis.ttl(box.record_key(created["id"]))
            assert 0 < ttl <= 3600


@synchronous
async def test_invalid_status_is_rejected() -> None:
    async with inbox() as box:
        created = await box.store.submit(summary(), department="cardio", session_id="s")
        with pytest.raises(ValueError, match="status"):
            await box.store.set_status(created["id"], "archived")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="status"):
            await box.store.list(status="archived")  # type: ignore[arg-type]
        fetched = await box.store.get(created["id"])
        assert fetched is not None
        assert fetched["status"] == "new"


@pytest.mark.parametrize(
    "record_id",
    ["A" * 22, "", "short", "A" * 23, "../../etc/passwd-xxxxx", "AAAAAAAAAAAAAAAAAAAAA*", "x" * 21 + "\n"],
)
@synchronous
async def test_unknown_or_malformed_id_is_none(record_id: str) -> None:
    async with inbox() as box:
        await box.store.submit(summary(), department="cardio", session_id="s")
        assert await box.store.get(record_id) is None
        assert await box.store.set_status(record_id, "seen") is None
        assert await box.redis.exists(box.record_key(record_id)) == 0  # set_status created nothing


@synchronous
async def test_records_disappear_after_the_retention() -> None:
    async with inbox(retention_seconds=1) as box:
        created = await box.store.submit(summary(), department="cardio", session_id="s")
        assert await box.store.get(created["id"]) is not None
        assert (await box.store.list())[1] == 1

        await asyncio.sleep(1.5)

        assert await box.store.get(created["id"]) is None
        assert await box.store.list() == ([], 0)
        assert await box.redis.zcard(box.index_key) == 0


@synchronous
async def test_records_whose_key_expired_leave_the_index() -> None:
    async with inbox(retention_seconds=3600) as box:
        kept = await box.store.submit(summary(1), department="cardio", session_id="s")
        lost = await box.store.submit(summary(2), department="cardio", session_id="s")
        await box.redis.delete(box.record_key(lost["id"]))  # as if it had expired

        items, total = await box.store.list()

        assert (total, [i["id"] for i in items]) == (1, [kept["id"]])
        assert await box.redis.zscore(box.index_key, lost["id"]) is None


@synchronous
async def test_erase_session_removes_only_that_sessions_records() -> None:
    async with inbox() as box:
        mine = [
            (await box.store.submit(summary(n), department="cardio", session_id="mine"))["id"]
            for n in range(2)
        ]
        other = await box.store.submit(summary(9), department="cardio", session_id="other")

        assert await box.store.erase_session("mine") == 2

        for record_id in mine:
            assert await box.store.get(record_id) is None
        assert await box.store.get(other["id"]) == other
        items, total = await box.store.list()
        assert (total, [i["id"] for i in items]) == (1, [other["id"]])
        assert await box.store.erase_session("mine") == 0
        assert await box.store.erase_session("never-seen") == 0


@synchronous
async def test_concurrent_status_changes_leave_a_whole_record() -> None:
    async with inbox(retention_seconds=3600) as box:
        created = await box.store.submit(summary(7), department="cardio", session_id="s")
        wanted = ["seen" if n % 2 else "done" for n in range(20)]

        results = await asyncio.gather(*(box.store.set_status(created["id"], s) for s in wanted))  # type: ignore[arg-type]

        assert all(result is not None for result in results)
        assert [result["status"] for result in results if result] == wanted  # none silently dropped
        raw = await box.redis.get(box.record_key(created["id"]))
        assert raw is not None
        stored = orjson.loads(raw)
        assert stored["status"] in STATUSES
        assert stored["status"] in ("seen", "done")
        assert {k: v for k, v in stored.items() if k not in ("status", "updated_at", "session_sha256")} == {
            k: v for k, v in created.items() if k not in ("status", "updated_at")
        }
        assert await box.store.get(created["id"]) == {
            k: v for k, v in stored.items() if k != "session_sha256"
        }
        assert await box.redis.ttl(box.record_key(created["id"])) > 0


@synchronous
async def test_redis_down_raises_store_unavailable() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with inbox(redis_url=dead, redis_retries=0, redis_connect_timeout=0.5) as box:
        with pytest.raises(StoreUnavailable):
            await box.store.submit(summary(), department="cardio", session_id="s")
        with pytest.raises(StoreUnavailable):
            await box.store.get("A" * 22)
        with pytest.raises(StoreUnavailable):
            await box.store.list()
