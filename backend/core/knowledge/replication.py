"""Every replica serves the same knowledge: writes go to the system of record, each host pulls them.

A write (any replica, or the CLI) takes the store's lock in PostgreSQL, which holds across hosts;
brings this host's copy up to the store's live version; composes the batch against it; embeds its
chunks once; and commits batch, documents and embeddings in one transaction, so a writer killed
mid-import leaves nothing anywhere. Only then is the batch applied here and announced on Redis.

Every worker follows the database (`follow`): on an announcement, or every POLL_SECONDS when none
comes (Redis down, a message lost), it compares each store's version there with this host's copy and
applies what is missing (batches with their stored embeddings) through the indexer, under the
store's file lock: one worker per host does the work and its GENERATION bump tells the others. A
copy that does not extend the database's (a cache of another database, a store deleted and created
again) is dropped and pulled whole; nothing in the cache directory is needed, nothing re-embedded.

A store written before the database held knowledge (batch id "") is still served from this host
until `python -m backend.cli db import-legacy` (or the next write to it) adopts it, history and all.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import orjson

from backend.core.config import Settings
from backend.core.knowledge.retrieval.indexer import Indexer, Progress
from backend.core.knowledge.store.central import CentralStore, Fetched, Head
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.legacy import adopt_batches, legacy_documents, set_aside
from backend.core.knowledge.store.models import PendingBatch, StoreInfo, StoreNotFound
from backend.core.logging import get_logger

log = get_logger("knowledge")

CHANNEL = "kb:changed"  # under REDIS_KEY_PREFIX: `channel(settings)`
POLL_SECONDS = 2.0
PULLED = "pulled"  # under the knowledge root, touched after every pull that found the database

T = TypeVar("T")
Announce = Callable[[str], Awaitable[None]]
LocalHead = tuple[int, str]  # (version, batch id) of this host's copy


class LocalWriteError(RuntimeError):
    """This host failed its part of a write (a full disk...): nothing was committed anywhere."""


async def _local(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Local work inside the database transaction: its OSError is not the database's unavailability."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except OSError as exc:
        raise LocalWriteError(f"{type(exc).__name__}: {exc}") from exc


def channel(settings: Settings) -> str:
    """Where writes are announced: deployments sharing a Redis under other prefixes do not hear them."""
    return f"{settings.redis_key_prefix}{CHANNEL}"


def _read_all(documents: Iterable[Document]) -> list[Document]:
    return list(documents)


class Replication:
    def __init__(self, indexer: Indexer, central: CentralStore, announce: Announce | None = None) -> None:
        self.indexer = indexer
        self.repository = indexer.repository
        self.central = central
        self.identity = indexer.identity
        self._announce = announce

    # --- writes ----------------------------------------------------------------------------

    async def upsert(
        self,
        store: str,
        documents: Iterable[Document],
        *,
        delete: Iterable[str] = (),
        on_progress: Progress = None,
        only_if_missing: bool = False,
    ) -> StoreInfo:
        """Add documents (same id replaces) and remove `delete`: one batch, on every replica."""
        return await self._write(store, list(documents), set(delete), on_progress, only_if_missing)

    async def delete_document(self, store: str, doc_id: str) -> StoreInfo:
        return await self._write(store, [], {doc_id}, None, False, must_exist=doc_id)

    async def delete_store(self, store: str) -> None:
        async with self.central.writing(store) as connection:
            head = await self.central.head(connection, store)
            local = await asyncio.to_thread(self._local_head, store)
            if (head is None or head.deleted) and local is None:
                raise StoreNotFound(store)
            if head is not None and not head.deleted:
                await self.central.delete(connection, store)
        with contextlib.suppress(StoreNotFound):  # this host may never have pulled it
            await asyncio.to_thread(self.repository.delete_store, store)
        await self._notify(store)

    async def _write(
        self,
        store: str,
        documents: list[Document],
        delete: set[str],
        on_progress: Progress,
        only_if_missing: bool,
        must_exist: str | None = None,
    ) -> StoreInfo:
        async with self.central.writing(store) as connection:
            head = await self.central.head(connection, store)
            if only_if_missing and head is not None and not head.deleted:
                pending = None
            else:
                if head is None or head.deleted:
                    head = await self._adopt_locked(connection, store, head) or head
                await self._pull_store(store, head)
                base = head.version if head is not None else 0
                pending = await _local(
                    self.repository.compose,
                    store,
                    documents,
                    delete,
                    on_progress,
                    must_exist=must_exist,
                    base=base,
                )
                pending.info = pending.info.model_copy(update={"batch_id": uuid.uuid4().hex})
                vectors = await _local(self.indexer.embed_chunks, store, pending.chunks)
                embeddings = (self.identity, vectors) if vectors is not None else None
                await self.central.commit(connection, store, pending, embeddings=embeddings)
        if pending is None:
            await self._pull_store(store, head)
            return await asyncio.to_thread(self.repository.info, store)
        try:
            await asyncio.to_thread(self._apply_pending, store, pending, vectors)
        except OSError as exc:  # committed: this host's copy catches up at its next pull
            log.warning("local copy not updated", extra={"store": store, "error": type(exc).__name__})
        await self._notify(store)
        return pending.info

    async def _adopt_locked(self, connection: Any, store: str, head: Head | None) -> Head | None:
        """Upload this host's copy of a store the database does not hold (inside `writing`)."""
        local = await asyncio.to_thread(self._local_head, store)
        if local is None or local[1]:
            return None
        batches = await asyncio.to_thread(adopt_batches, self.repository, store, self.identity)
        if not batches:
            return None
        # A deleted store of that name used these versions: the adopted ones follow them, and this
        # host's copy, keyed by the old numbers, is pulled again (its embeddings travel along).
        shift = head.version if head is not None else 0
        for pending, vectors in batches:
            pending.info = pending.info.model_copy(update={"version": pending.info.version + shift})
            embeddings = (self.identity, vectors) if vectors is not None else None
            await self.central.commit(connection, store, pending, embeddings=embeddings)
        infos = [pending.info for pending, _ in batches]
        await asyncio.to_thread(self._mark_adopted, store, infos, shift)
        return Head(infos[-1].version, infos[-1].batch_id)

    async def adopt(self, store: str) -> StoreInfo | None:
        """`db import-legacy`: put a store that only this host holds into the database."""
        async with self.central.writing(store) as connection:
            head = await self.central.head(connection, store)
            if head is not None and not head.deleted:
                return None
            adopted = await self._adopt_locked(connection, store, head)
        if adopted is None:
            return None
        await self._notify(store)
        return await asyncio.to_thread(self.repository.info, store)

    async def adopt_all(self) -> dict[str, int]:
        """`db import-legacy`: every store only this host holds goes into the database, with counts."""
        counts = {"stores_found": 0, "adopted": 0, "converted": 0, "already_in_database": 0, "documents": 0}
        legacy = await asyncio.to_thread(self.repository.legacy_stores)
        for name in legacy:  # written by the hashed-embedding release: re-chunked from its documents
            counts["stores_found"] += 1
            directory = self.repository.store_dir(name)
            documents = await asyncio.to_thread(_read_all, legacy_documents(directory))
            aside = await asyncio.to_thread(set_aside, directory)
            info = await self.upsert(name, documents)
            await asyncio.to_thread(shutil.rmtree, aside, True)
            counts["converted"] += 1
            counts["documents"] += info.documents
        for name, (_, batch_id) in (await asyncio.to_thread(self._local_heads)).items():
            if batch_id or name in legacy:
                continue
            counts["stores_found"] += 1
            adopted = await self.adopt(name)
            if adopted is None:
                counts["already_in_database"] += 1  # the database's wins; this copy is set aside
            else:
                counts["adopted"] += 1
                counts["documents"] += adopted.documents
        return counts

    def _mark_adopted(self, store: str, infos: list[StoreInfo], shift: int) -> None:
        """Give the local batches the ids they now have in the database, so the copy stays."""
        with self.repository.lock(store):
            if shift:
                self.repository.discard_locked(store)
                return
            for info in infos:
                (self.repository.batch_dir(store, info.version) / "meta.json").write_text(
                    info.model_dump_json(indent=2)
                )

    def _apply_pending(self, store: str, pending: PendingBatch, vectors: Any) -> None:
        """The committed batch, applied to this host's copy (unless a pull got there first)."""
        with self.repository.lock(store):
            current = self.repository.current_version(store)
            if current == pending.info.version:
                return
            if current is not None and current != pending.info.version - 1:
                return  # moved on meanwhile: the next pull brings the copy up to date
            self.repository.apply_locked(store, pending)
            if vectors is not None:
                self.repository.put_embeddings(store, self.identity, pending.info.version, vectors)
            self.indexer.sync_locked(store)
        self.repository.bump_generation()

    async def _notify(self, store: str) -> None:
        if self._announce is not None:
            try:
                await self._announce(store)
            except Exception as exc:  # the other replicas' polling catches up within POLL_SECONDS
                log.warning("knowledge change not announced", extra={"error": type(exc).__name__})

    # --- pulls -----------------------------------------------------------------------------

    async def pull_all(self) -> bool:
        """Bring every store's copy on this host to its version in the database; True if any changed."""
        heads = await self.central.heads()
        local = await asyncio.to_thread(self._local_heads)
        changed = False
        for name in sorted({*heads, *local}):
            head = heads.get(name)
            if local.get(name) != ((head.version, head.batch_id) if head is not None else None):
                changed = await self._pull_store(name, head) or changed
        await asyncio.to_thread(self._mark_pulled)
        return changed

    def _mark_pulled(self) -> None:
        self.repository.root.mkdir(parents=True, exist_ok=True)
        (self.repository.root / PULLED).touch()

    def pulled_recently(self) -> bool:
        """Whether some worker of this host brought its copy up to date within POLL_SECONDS: a worker
        starting then (one recycled by MAX_REQUESTS, say) leaves the next pull to its follower, which
        comes within POLL_SECONDS, instead of opening a database connection as it starts."""
        try:
            age = time.time() - (self.repository.root / PULLED).stat().st_mtime
        except FileNotFoundError:
            return False
        return 0 <= age < POLL_SECONDS

    async def _pull_store(self, store: str, head: Head | None) -> bool:
        local = await asyncio.to_thread(self._local_head, store)
        if head is None or head.deleted:
            if local is None or not local[1]:
                return False  # nothing here, or a store only this host has (not adopted yet)
            with contextlib.suppress(StoreNotFound):  # a copy of a deleted store, or another database's
                await asyncio.to_thread(self.repository.delete_store, store)
            return True
        if local == (head.version, head.batch_id):
            return False
        since = 0
        extends = local is not None and bool(local[1]) and local[0] < head.version
        if extends and local is not None and await self.central.batch_id(store, local[0]) == local[1]:
            since = local[0]
        fetched = await self.central.fetch(store, since, self.identity)
        if not fetched.batches:
            return False
        embedded = await asyncio.to_thread(self._apply_fetched, store, since, fetched)
        for version, vectors in embedded:
            await self.central.put_embeddings(store, self.identity, version, vectors)
        return True

    def _apply_fetched(self, store: str, since: int, fetched: Fetched) -> list[tuple[int, Any]]:
        """Write the fetched batches to this host's copy and index them; the embeddings this host
        had to compute (the database had none for those batches) are returned for it to keep."""
        repository = self.repository
        last = fetched.batches[-1].info
        with repository.lock(store):
            local = self._local_head(store)
            if local == (last.version, last.batch_id):
                return []
            if since == 0:
                # A copy only this host had (written before the database held knowledge) is kept aside.
                repository.discard_locked(store, keep=local is not None and not local[1])
                first = fetched.batches[0].info.version
                if first > 1:
                    repository.store_dir(store).mkdir(parents=True, exist_ok=True)
                    (repository.store_dir(store) / "BASE").write_text(str(first - 1))
            elif local is None or local[0] != since:
                return []  # moved meanwhile: the next pull starts from where it is now
            records = [orjson.dumps(record) + b"\n" for record in fetched.records]
            for batch in fetched.batches:
                final = batch is fetched.batches[-1]
                repository.write_batch(
                    store,
                    batch.info,
                    batch.chunks,
                    batch.removed,
                    fetched.live if final else None,
                    records if final else None,
                )
                if batch.vectors is not None and self.identity:
                    repository.put_embeddings(store, self.identity, batch.info.version, batch.vectors)
            repository.publish(store, last.version)
            self.indexer.sync_locked(store)
            embedded = [
                (batch.info.version, repository.load_embeddings(store, self.identity, batch.info.version))
                for batch in fetched.batches
                if self.identity
                and batch.vectors is None
                and batch.chunks
                and repository.has_embeddings(store, self.identity, batch.info.version)
            ]
        repository.bump_generation()
        log.info("store pulled", extra={"store": store, "version": last.version, "since": since})
        return embedded

    def _local_head(self, store: str) -> LocalHead | None:
        version = self.repository.current_version(store)
        if version is None:
            return None
        return version, self.repository.info(store).batch_id

    def _local_heads(self) -> dict[str, LocalHead]:
        return {info.name: (info.version, info.batch_id) for info in self.repository.list_stores()}

    async def follow(self, subscribe: Callable[[], Any] | None, name: str) -> None:
        """Pull forever: at once on an announcement, and every POLL_SECONDS as the safety net.

        `subscribe` gives a Redis pub/sub object (or None) to listen on channel `name`: lost, it is
        made again next round."""
        pubsub = None
        while True:
            try:
                if pubsub is None and subscribe is not None:
                    pubsub = subscribe()
                    await pubsub.subscribe(name)
                if pubsub is not None:
                    await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
                else:
                    await asyncio.sleep(POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
                pubsub = None
                await asyncio.sleep(POLL_SECONDS)
            await self.pull_once()

    async def pull_once(self) -> None:
        """One pull by one worker of this host at a time: the others skip it (a non-blocking lock)."""
        lock_path = self.repository.root / "pull.lock"
        try:
            self.repository.root.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            await self.pull_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database down: keep serving this host's copy, try again later
            log.warning("knowledge pull failed", extra={"error": type(exc).__name__})
        finally:
            os.close(descriptor)
