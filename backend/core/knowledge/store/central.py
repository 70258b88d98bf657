"""The knowledge stores in the system of record (PostgreSQL): what every replica's copy is made of.

Each host keeps a local copy of every store (repository.py, under DATA_DIR/kb) with the indexes
derived from it; this module is the shared truth those copies are pulled from (replication.py).
A write is one transaction holding the store's advisory lock, so writes to a store are serialised
across hosts, and a writer killed mid-import leaves nothing: PostgreSQL rolls the transaction back
and releases the lock with the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.core.db.engine import Database, DatabaseUnavailable
from backend.core.knowledge.store.documents import Chunk, Document
from backend.core.knowledge.store.models import PendingBatch, StoreInfo
from backend.core.knowledge.store.tables import (
    kb_batches,
    kb_chunks,
    kb_documents,
    kb_embeddings,
    kb_records,
    kb_stores,
)

LOCK_POLL = 0.1  # seconds between tries of a store's write lock held by another writer
ROWS_PER_STATEMENT = 2000


class StoreBusy(DatabaseUnavailable):
    """Another writer held the store's lock for longer than a writer waits: 503, retry later."""


@dataclass(frozen=True, slots=True)
class Head:
    version: int
    batch_id: str  # "" once deleted
    deleted: bool = False


@dataclass(slots=True)
class FetchedBatch:
    info: StoreInfo
    chunks: list[Chunk]
    removed: list[str]
    vectors: npt.NDArray[np.float32] | None  # the model's stored embeddings, when there are any


@dataclass(slots=True)
class Fetched:
    """The batches after a version, and the store's live lists as of the last of them."""

    batches: list[FetchedBatch]
    live: dict[str, list[Any]] = field(default_factory=dict)  # doc id -> [version, title], in order
    records: list[dict[str, Any]] = field(default_factory=list)


def vectors_to_bytes(vectors: npt.NDArray[np.float32]) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def vectors_from_bytes(data: bytes) -> npt.NDArray[np.float32]:
    vectors: npt.NDArray[np.float32] = np.load(io.BytesIO(data), allow_pickle=False)
    return vectors


class CentralStore:
    def __init__(self, database: Database, lock_wait: float = 300.0) -> None:
        self.database = database
        self.lock_wait = lock_wait

    # --- reading ---------------------------------------------------------------------------

    async def heads(self) -> dict[str, Head]:
        """Every store's live version: one small query, what each replica polls."""
        async with self.database.transaction() as connection:
            rows = await connection.execute(
                select(kb_stores.c.name, kb_stores.c.version, kb_stores.c.batch_id, kb_stores.c.deleted_at)
            )
            return {row.name: Head(row.version, row.batch_id, row.deleted_at is not None) for row in rows}

    async def infos(self) -> list[StoreInfo]:
        """The live stores as the database describes them (`kb list`)."""
        async with self.database.transaction() as connection:
            rows = await connection.execute(
                select(kb_stores.c.info).where(kb_stores.c.deleted_at.is_(None)).order_by(kb_stores.c.name)
            )
            return [StoreInfo.model_validate(row.info) for row in rows]

    async def batch_id(self, store: str, version: int) -> str | None:
        async with self.database.transaction() as connection:
            found: str | None = await connection.scalar(
                select(kb_batches.c.batch_id).where(
                    kb_batches.c.store == store, kb_batches.c.version == version
                )
            )
            return found

    async def fetch(self, store: str, since: int, model: str) -> Fetched:
        """The store's batches after `since` (with `model`'s embeddings) and its live lists, read in
        one snapshot so they describe the same version."""
        async with self.database.transaction() as connection:
            await connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            batches: dict[int, FetchedBatch] = {}
            rows = await connection.execute(
                select(kb_batches.c.version, kb_batches.c.deleted, kb_batches.c.info)
                .where(kb_batches.c.store == store, kb_batches.c.version > since)
                .order_by(kb_batches.c.version)
            )
            for row in rows:
                batches[row.version] = FetchedBatch(StoreInfo.model_validate(row.info), [], row.deleted, None)
            if not batches:
                return Fetched([])
            chunks = await connection.stream(
                select(kb_chunks)
                .where(kb_chunks.c.store == store, kb_chunks.c.version > since)
                .order_by(kb_chunks.c.version, kb_chunks.c.ordinal)
            )
            async for row in chunks:
                batches[row.version].chunks.append(
                    Chunk(
                        doc_id=row.doc_id,
                        title=row.title,
                        text=row.text,
                        position=row.position,
                        metadata=row.metadata,
                    )
                )
            if model:
                stored = await connection.execute(
                    select(kb_embeddings.c.version, kb_embeddings.c.vectors).where(
                        kb_embeddings.c.store == store,
                        kb_embeddings.c.model == model,
                        kb_embeddings.c.version > since,
                    )
                )
                for part in stored:
                    batches[part.version].vectors = vectors_from_bytes(part.vectors)
            fetched = Fetched(list(batches.values()))
            documents = await connection.execute(
                select(kb_documents.c.doc_id, kb_documents.c.version, kb_documents.c.title)
                .where(kb_documents.c.store == store)
                .order_by(kb_documents.c.version, kb_documents.c.ordinal)
            )
            fetched.live = {row.doc_id: [row.version, row.title] for row in documents}
            records = await connection.execute(
                select(kb_records.c.record)
                .where(kb_records.c.store == store)
                .order_by(kb_records.c.version, kb_records.c.ordinal)
            )
            fetched.records = [row.record for row in records]
            return fetched

    async def export(self, store: str) -> AsyncIterator[Document]:
        """The store's live documents, in store order, whole (what `kb export` writes)."""
        async with self.database.transaction() as connection:
            rows = await connection.stream(
                select(
                    kb_documents.c.doc_id, kb_documents.c.title, kb_documents.c.text, kb_documents.c.metadata
                )
                .where(kb_documents.c.store == store)
                .order_by(kb_documents.c.version, kb_documents.c.ordinal)
            )
            async for row in rows:
                yield Document(id=row.doc_id, title=row.title, text=row.text, metadata=row.metadata)

    # --- writing ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def writing(self, store: str) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the store's write lock, across every host, until it ends."""
        async with self.database.transaction() as connection:
            deadline = time.monotonic() + self.lock_wait
            key = func.hashtextextended(f"medqa-kb:{store}", 0)
            while not await connection.scalar(select(func.pg_try_advisory_xact_lock(key))):
                if time.monotonic() > deadline:
                    raise StoreBusy(f"store {store!r} is being written by another writer")
                await asyncio.sleep(LOCK_POLL)
            yield connection

    @staticmethod
    async def head(connection: AsyncConnection, store: str) -> Head | None:
        row = (
            await connection.execute(
                select(kb_stores.c.version, kb_stores.c.batch_id, kb_stores.c.deleted_at).where(
                    kb_stores.c.name == store
                )
            )
        ).first()
        return None if row is None else Head(row.version, row.batch_id, row.deleted_at is not None)

    @staticmethod
    async def commit(
        connection: AsyncConnection,
        store: str,
        pending: PendingBatch,
        *,
        embeddings: tuple[str, npt.NDArray[np.float32]] | None = None,
    ) -> None:
        """Write one composed batch (inside `writing`): its chunks, documents, records, embeddings."""
        info = pending.info
        now = time.time()
        values = {"version": info.version, "batch_id": info.batch_id, "info": info.model_dump()}
        await connection.execute(
            insert(kb_stores)
            .values(name=store, updated_at=now, deleted_at=None, **values)
            .on_conflict_do_update(
                index_elements=[kb_stores.c.name], set_={**values, "updated_at": now, "deleted_at": None}
            )
        )
        await connection.execute(
            kb_batches.insert().values(
                store=store,
                version=info.version,
                batch_id=info.batch_id,
                deleted=pending.removed,
                info=info.model_dump(),
                created_at=now,
            )
        )
        if pending.removed:
            for table in (kb_documents, kb_records):
                await connection.execute(
                    table.delete().where(table.c.store == store, table.c.doc_id.in_(pending.removed))
                )
        chunk_rows = [
            {
                "store": store,
                "version": info.version,
                "ordinal": ordinal,
                "doc_id": chunk.doc_id,
                "position": chunk.position,
                "title": chunk.title,
                "text": chunk.text,
                "metadata": chunk.metadata,
            }
            for ordinal, chunk in enumerate(pending.chunks)
        ]
        document_rows = [
            {
                "store": store,
                "doc_id": document.id,
                "version": info.version,
                "ordinal": ordinal,
                "title": document.title,
                "text": document.text,
                "metadata": document.metadata,
            }
            for ordinal, document in enumerate(pending.documents)
        ]
        record_rows = [
            {
                "store": store,
                "doc_id": record["id"],
                "version": info.version,
                "ordinal": ordinal,
                "record": record,
            }
            for ordinal, record in enumerate(pending.records)
        ]
        for table, rows in (
            (kb_chunks, chunk_rows),
            (kb_documents, document_rows),
            (kb_records, record_rows),
        ):
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                await connection.execute(table.insert(), rows[start : start + ROWS_PER_STATEMENT])
        if embeddings is not None and len(embeddings[1]) == len(pending.chunks) and pending.chunks:
            model, vectors = embeddings
            await connection.execute(
                kb_embeddings.insert().values(
                    store=store, model=model, version=info.version, vectors=vectors_to_bytes(vectors)
                )
            )

    @staticmethod
    async def delete(connection: AsyncConnection, store: str) -> None:
        """Remove a store's content (inside `writing`); its row stays, so its versions carry on."""
        await connection.execute(kb_batches.delete().where(kb_batches.c.store == store))
        await connection.execute(
            update(kb_stores).where(kb_stores.c.name == store).values(batch_id="", deleted_at=time.time())
        )

    async def put_embeddings(
        self, store: str, model: str, version: int, vectors: npt.NDArray[np.float32]
    ) -> None:
        """Embeddings a replica computed for a batch stored without them (the model was down then):
        the first replica's are kept, so no one embeds that batch again."""
        try:
            async with self.database.transaction() as connection:
                await connection.execute(
                    insert(kb_embeddings)
                    .values(store=store, model=model, version=version, vectors=vectors_to_bytes(vectors))
                    .on_conflict_do_nothing()
                )
        except sa_exc.IntegrityError:
            pass  # the batch is gone (its store was deleted): nothing to keep
