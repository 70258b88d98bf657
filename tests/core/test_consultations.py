"""The consultation inbox against a real PostgreSQL: what the patient and doctor services rely on."""

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
from sqlalchemy import select

from backend.core.config import Settings
from backend.core.consultations import STATUSES, ConsultationStore, StoreUnavailable
from backend.core.db.engine import Database, create_engine
from backend.core.db.schema import consultations
from backend.devstack.processes import free_port


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test with asyncio.run, as the rest of the suite does (no pytest plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@dataclass
class Inbox:
    store: ConsultationStore
    db: Database

    async def stored(self, record_id: str) -> dict[str, Any] | None:
        """The row as the database holds it, private fields included."""
        async with self.db.transaction() as connection:
            row = (
                await connection.execute(select(consultations).where(consultations.c.id == record_id))
            ).first()
        return {str(key): value for key, value in row._mapping.items()} if row is not None else None


@asynccontextmanager
async def inbox(url: str, retention_seconds: int = 3600, **overrides: Any) -> AsyncIterator[Inbox]:
    """A store on the test's own database, so no test sees another's records."""
    database = Database(create_engine(Settings(database_url=url, **overrides)), 2.0)
    try:
        yield Inbox(ConsultationStore(database, retention_seconds=retention_seconds), database)
    finally:
        await database.engine.dispose()


def summary(n: int = 0) -> dict[str, Any]:
    return {"chief_complaint": f"头痛 {n} 天", "symptoms": ["headache", "nausea"], "allergies": [], "n": n}


@synchronous
async def test_submit_then_get_round_trips_without_exposing_the_session(database_url: str) -> None:
    session_id = "patient-session-" + uuid.uuid4().hex
    session_hash = hashlib.sha256(session_id.encode()).hexdigest()
    async with inbox(database_url) as box:
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
        row = await box.stored(created["id"])
        assert row is not None
        assert session_id not in orjson.dumps(row).decode()  # stored only as its hash
        assert row["session_sha256"] == session_hash


@synchronous
async def test_list_is_newest_first_and_paged(database_url: str) -> None:
    async with inbox(database_url) as box:
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
async def test_list_filters_by_department_and_status(database_url: str) -> None:
    async with inbox(database_url) as box:
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
async def test_set_status_persists_and_keeps_the_retention(database_url: str) -> None:
    async with inbox(database_url, retention_seconds=3600) as box:
        created = await box.store.submit(summary(), department="cardio", session_id="s")
        for status in ("seen", "done"):
            changed = await box.store.set_status(created["id"], status)
            assert changed is not None
            assert changed["status"] == status
            assert changed["updated_at"] >= created["created_at"]
            fetched = await box.store.get(created["id"])
            assert fetched == changed
            assert fetched["summary"] == created["summary"]  # empty lists stay lists
            assert fetched["created_at"] == created["created_at"]  # the retention still counts from it


@synchronous
async def test_invalid_status_is_rejected(database_url: str) -> None:
    async with inbox(database_url) as box:
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
async def test_unknown_or_malformed_id_is_none(record_id: str, database_url: str) -> None:
    async with inbox(database_url) as box:
        await box.store.submit(summary(), department="cardio", session_id="s")
        assert await box.store.get(record_id) is None
        assert await box.store.set_status(record_id, "seen") is None
        assert await box.stored(record_id) is None  # set_status created nothing


@synchronous
async def test_records_disappear_after_the_retention(database_url: str) -> None:
    async with inbox(database_url, retention_seconds=1) as box:
        created = await box.store.submit(summary(), department="cardio", session_id="s")
        assert await box.store.get(created["id"]) is not None
        assert (await box.store.list())[1] == 1

        await asyncio.sleep(1.5)

        assert await box.store.get(created["id"]) is None
        assert await box.store.list() == ([], 0)
        assert await box.stored(created["id"]) is None  # deleted, not only hidden


@synchronous
async def test_erase_session_removes_only_that_sessions_records(database_url: str) -> None:
    async with inbox(database_url) as box:
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
async def test_concurrent_status_changes_leave_a_whole_record(database_url: str) -> None:
    async with inbox(database_url, retention_seconds=3600) as box:
        created = await box.store.submit(summary(7), department="cardio", session_id="s")
        wanted = ["seen" if n % 2 else "done" for n in range(20)]

        results = await asyncio.gather(*(box.store.set_status(created["id"], s) for s in wanted))  # type: ignore[arg-type]

        assert all(result is not None for result in results)
        assert [result["status"] for result in results if result] == wanted  # none silently dropped
        stored = await box.stored(created["id"])
        assert stored is not None
        assert stored["status"] in STATUSES
        assert stored["status"] in ("seen", "done")
        assert {k: v for k, v in stored.items() if k not in ("status", "updated_at", "session_sha256")} == {
            k: v for k, v in created.items() if k not in ("status", "updated_at")
        }
        assert await box.store.get(created["id"]) == {
            k: v for k, v in stored.items() if k != "session_sha256"
        }


@synchronous
async def test_database_down_raises_store_unavailable() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/medqa"
    async with inbox(dead, database_timeout=0.5) as box:
        with pytest.raises(StoreUnavailable):
            await box.store.submit(summary(), department="cardio", session_id="s")
        with pytest.raises(StoreUnavailable):
            await box.store.get("A" * 22)
        with pytest.raises(StoreUnavailable):
            await box.store.list()
