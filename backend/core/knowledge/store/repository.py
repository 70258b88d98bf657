"""The source of truth of every knowledge store: its documents, chunks and stored embeddings.

Everything else (the lexical index, the dense index) is data derived from what this holds, and is
rebuilt from it (retrieval/indexer.py). A database-backed repository (issue 15) replaces this class
with the same methods; the index code only calls them.

A store is a log of write batches. Layout under KB_DIR (DATA_DIR/kb):
    <store>/batches/000007/chunks.jsonl     the chunks this write added, in order
    <store>/batches/000007/deleted.json     the document ids it removed (deleted, or replaced)
    <store>/batches/000007/documents.json   the live documents after it: id -> [batch, title]
    <store>/batches/000007/records.jsonl    the live structured disease records after it
    <store>/batches/000007/meta.json        the store's StoreInfo after it
    <store>/embeddings/<model>/000007.npy   stored embeddings of batch 7's chunks, one row each
    <store>/CURRENT                         the number of the live batch, replaced atomically
    <store>.lock                            one writer per store, across processes
    GENERATION                              grows by one byte whenever any store changes
A batch is written beside the live one and published by replacing CURRENT: readers never see half
a write, and a failed write leaves the store as it was. A write costs time in proportion to its own
documents (plus rewriting the small per-store lists), not to the store.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from backend.core.config import Settings
from backend.core.knowledge.store.compose import compose_batch
from backend.core.knowledge.store.documents import Chunk, Document, valid_store_name
from backend.core.knowledge.store.models import (
    Batch,
    DocumentNotFound,
    InvalidStoreName,
    LegacyStore,
    PendingBatch,
    StoreInfo,
    StoreNotFound,
    chunk_key,
    model_slug,
    read_chunks,
)
from backend.core.logging import get_logger

__all__ = [
    "Batch",
    "DocumentNotFound",
    "InvalidStoreName",
    "KnowledgeRepository",
    "LegacyStore",
    "PendingBatch",
    "StoreInfo",
    "StoreNotFound",
    "chunk_key",
    "read_chunks",
]

log = get_logger("knowledge")

KEEP_LISTS = 2  # batches that keep their documents/records lists: the live one and the one before


class KnowledgeRepository:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.kb_dir
        self._generation_path = str(self.root / "GENERATION")  # a str: stat()ed on every request

    # --- reading ---------------------------------------------------------------------------

    def store_dir(self, store: str) -> Path:
        if not valid_store_name(store):
            raise InvalidStoreName(f"invalid store name {store!r}: use a-z, 0-9, '-' and '_' (max 64)")
        return self.root / store

    def current_version(self, store: str) -> int | None:
        try:
            name = (self.store_dir(store) / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None
        if name.startswith("v"):
            raise LegacyStore(store)
        return int(name)

    def is_legacy(self, store: str) -> bool:
        try:
            self.current_version(store)
        except LegacyStore:
            return True
        return False

    def batch_dir(self, store: str, version: int) -> Path:
        return self.store_dir(store) / "batches" / f"{version:06d}"

    def generation(self) -> str:
        """Changes whenever any store changes (in this process or another sharing KB_DIR).

        One stat(), cheap enough for every request: the file only ever grows, so its size never
        repeats (a timestamp could, within the clock's granularity)."""
        try:
            status = os.stat(self._generation_path)
        except FileNotFoundError:
            return "none"
        return f"{status.st_ino}.{status.st_size}"

    def info(self, store: str) -> StoreInfo:
        return StoreInfo.model_validate_json((self._live_dir(store) / "meta.json").read_bytes())

    def list_stores(self) -> list[StoreInfo]:
        """The live stores; a legacy one is left out (and logged) until it is rebuilt."""
        if not self.root.exists():
            return []
        stores = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and (path / "CURRENT").exists() and valid_store_name(path.name):
                try:
                    stores.append(self.info(path.name))
                except LegacyStore:
                    log.warning("legacy store skipped: run `kb rebuild`", extra={"store": path.name})
        return stores

    def legacy_stores(self) -> list[str]:
        if not self.root.exists():
            return []
        return [p.name for p in sorted(self.root.iterdir()) if p.is_dir() and self._is_legacy_dir(p)]

    def _is_legacy_dir(self, path: Path) -> bool:
        current = path / "CURRENT"
        return current.exists() and current.read_text().startswith("v")

    def _live_dir(self, store: str) -> Path:
        version = self.current_version(store)
        if version is None:
            raise StoreNotFound(store)
        return self.batch_dir(store, version)

    def documents(self, store: str) -> dict[str, list[Any]]:
        """Live document id -> [batch, title], in the order they were first added."""
        data: dict[str, list[Any]] = orjson.loads((self._live_dir(store) / "documents.json").read_bytes())
        return data

    def read_batch(self, store: str, version: int) -> Batch:
        directory = self.batch_dir(store, version)
        deleted: list[str] = orjson.loads((directory / "deleted.json").read_bytes())
        return Batch(version, list(read_chunks(directory / "chunks.jsonl")), deleted)

    def batches(self, store: str, since: int) -> Iterator[Batch]:
        """The batches after `since`, oldest first, up to the live one: what an index catching up applies."""
        current = self.current_version(store)
        if current is None:
            raise StoreNotFound(store)
        for version in range(max(since, self.base_version(store)) + 1, current + 1):
            yield self.read_batch(store, version)

    def base_version(self, store: str) -> int:
        """The version before the store's first batch: 0, unless the store was deleted and created
        again, when the system of record carries its version sequence on (tables.py)."""
        try:
            return int((self.store_dir(store) / "BASE").read_text())
        except FileNotFoundError:
            return 0

    def read_document(self, store: str, doc_id: str) -> list[Chunk]:
        """A document's chunks in order: a scan of the one batch that holds it, for a person's click."""
        where = self.documents(store).get(doc_id)
        if where is None:
            raise DocumentNotFound(doc_id)
        path = self.batch_dir(store, where[0]) / "chunks.jsonl"
        chunks = sorted((c for c in read_chunks(path) if c.doc_id == doc_id), key=lambda c: c.position)
        if not chunks:
            raise DocumentNotFound(doc_id)
        return chunks

    def list_documents(self, store: str, offset: int, limit: int) -> tuple[list[tuple[str, str]], int]:
        """(id, title) of documents in store order from `offset`, and how many there are."""
        documents = self.documents(store)
        page = list(documents.items())[offset : offset + limit]
        return [(doc_id, where[1]) for doc_id, where in page], len(documents)

    def records_path(self, store: str, version: int) -> Path:
        """The live structured disease records of the store at `version` (JSON lines)."""
        return self.batch_dir(store, version) / "records.jsonl"

    # --- stored embeddings -----------------------------------------------------------------

    def embeddings_path(self, store: str, identity: str, version: int) -> Path:
        return self.store_dir(store) / "embeddings" / model_slug(identity) / f"{version:06d}.npy"

    def has_embeddings(self, store: str, identity: str, version: int) -> bool:
        return self.embeddings_path(store, identity, version).exists()

    def put_embeddings(
        self, store: str, identity: str, version: int, vectors: npt.NDArray[np.float32]
    ) -> None:
        """Store the embeddings of one batch's chunks (written once: a chunk is never re-embedded)."""
        path = self.embeddings_path(store, identity, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{uuid.uuid4().hex}.npy")
        np.save(staging, np.ascontiguousarray(vectors, dtype=np.float32))
        os.replace(staging, path)

    def load_embeddings(self, store: str, identity: str, version: int) -> npt.NDArray[np.float32]:
        """Memory-mapped: every worker shares the one copy in the page cache."""
        vectors: npt.NDArray[np.float32] = np.load(
            self.embeddings_path(store, identity, version), mmap_mode="r"
        ).view(np.ndarray)
        return vectors

    # --- writing ---------------------------------------------------------------------------

    def upsert(
        self,
        store: str,
        documents: Iterable[Document],
        *,
        on_progress: Callable[[int], None] | None = None,
        only_if_missing: bool = False,
        delete: Iterable[str] = (),
    ) -> StoreInfo:
        """Add documents, replacing any with the same id, and remove `delete`; one atomic batch.

        With only_if_missing, nothing happens when the store exists (decided under the lock, so
        workers starting together create it once). The caller holds no lock; the indexes catch up
        through `batches()` (retrieval/indexer.py does both under `lock()`)."""
        with self.lock(store):
            if only_if_missing and self.current_version(store) is not None:
                return self.info(store)
            return self.write_locked(store, documents, set(delete), on_progress)

    def write_locked(
        self,
        store: str,
        documents: Iterable[Document],
        delete: set[str],
        on_progress: Callable[[int], None] | None = None,
        *,
        must_exist: str | None = None,
    ) -> StoreInfo:
        """One batch; the caller holds `lock(store)`. `must_exist` names a document that must be live."""
        pending = self.compose(store, documents, delete, on_progress, must_exist=must_exist)
        self.apply_locked(store, pending)
        return pending.info

    def compose(
        self,
        store: str,
        documents: Iterable[Document],
        delete: set[str],
        on_progress: Callable[[int], None] | None = None,
        *,
        must_exist: str | None = None,
        base: int = 0,
    ) -> PendingBatch:
        """The next batch of the store, cut into chunks against its live state; nothing is written.
        `base` is the version a store that is not here yet continues from."""
        return compose_batch(self, store, documents, delete, on_progress, must_exist=must_exist, base=base)

    def apply_locked(self, store: str, pending: PendingBatch) -> None:
        """Write a composed batch on top of the live one and publish it; the caller holds the lock."""
        current = self.current_version(store)
        if current is None and pending.info.version > 1:
            self.store_dir(store).mkdir(parents=True, exist_ok=True)
            (self.store_dir(store) / "BASE").write_text(str(pending.info.version - 1))
        elif pending.info.version != (current or 0) + 1:
            raise RuntimeError(f"batch {pending.info.version} does not follow {store!r} version {current}")
        live: dict[str, list[Any]] = self.documents(store) if current is not None else {}
        for doc_id in pending.removed:
            live.pop(doc_id, None)
        for document in pending.documents:
            live[document.id] = [pending.info.version, document.title]
        records = self._records_after(store, current, set(pending.removed), pending.records)
        self.write_batch(store, pending.info, pending.chunks, pending.removed, live, records)
        self.publish(store, pending.info.version)

    def write_batch(
        self,
        store: str,
        info: StoreInfo,
        chunks: list[Chunk],
        removed: list[str],
        live: dict[str, list[Any]] | None,
        records: Iterable[bytes] | None,
    ) -> None:
        """One batch's directory, written beside the store and renamed into place (not yet live).

        `live` and `records` (JSON lines) are the store's lists after it: only a batch that becomes
        the live one needs them."""
        directory = self.store_dir(store)
        staging = directory / f".staging-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            with (staging / "chunks.jsonl").open("wb") as out:
                for chunk in chunks:
                    out.write(orjson.dumps(chunk.model_dump()) + b"\n")
            (staging / "deleted.json").write_bytes(orjson.dumps(removed))
            if live is not None:
                (staging / "documents.json").write_bytes(orjson.dumps(live))
            if records is not None:
                with (staging / "records.jsonl").open("wb") as out:
                    out.writelines(records)
            (staging / "meta.json").write_text(info.model_dump_json(indent=2))
            target = self.batch_dir(store, info.version)
            target.parent.mkdir(exist_ok=True)
            # Left by a write that stopped before publishing it: never live, so never read.
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("store written", extra={"store": store, "version": info.version, "chunks": len(chunks)})

    def _records_after(
        self, store: str, current: int | None, removed: set[str], added: list[dict[str, Any]]
    ) -> Iterator[bytes]:
        """The live disease records: the previous list less what this batch removed, plus its own."""
        if current is not None and (old := self.records_path(store, current)).exists():
            with old.open("rb") as source:
                for line in source:
                    if orjson.loads(line)["id"] not in removed:
                        yield line
        for record in added:
            yield orjson.dumps(record) + b"\n"

    def delete_document(self, store: str, doc_id: str) -> StoreInfo:
        with self.lock(store):
            return self.write_locked(store, [], {doc_id}, must_exist=doc_id)

    def delete_store(self, store: str) -> None:
        directory = self.store_dir(store)
        with self.lock(store):
            if not (directory / "CURRENT").exists():
                raise StoreNotFound(store)
            # Renamed first, so the store disappears at once even if removal takes a while.
            trash = directory.with_name(f".deleted-{store}-{uuid.uuid4().hex[:8]}")
            directory.rename(trash)
            self.bump_generation()
        shutil.rmtree(trash, ignore_errors=True)
        log.info("store deleted", extra={"store": store})

    def discard_locked(self, store: str, *, keep: bool = False) -> Path | None:
        """Drop this host's copy of a store (a cache of the system of record); the caller holds the
        lock. With `keep`, a copy that exists nowhere else is moved aside instead (its path returned)."""
        directory = self.store_dir(store)
        if not directory.exists():
            return None
        label = "set-aside" if keep else "deleted"
        moved = directory.with_name(f".{label}-{store}-{int(time.time())}-{uuid.uuid4().hex[:8]}")
        directory.rename(moved)
        if keep:
            log.warning("local-only store set aside", extra={"store": store, "path": str(moved)})
            return moved
        shutil.rmtree(moved, ignore_errors=True)
        return None

    def publish(self, store: str, version: int) -> None:
        directory = self.store_dir(store)
        pointer = directory / f".CURRENT-{uuid.uuid4().hex}"
        pointer.write_text(f"{version}\n")
        os.replace(pointer, directory / "CURRENT")  # atomic: readers see the old or the new batch
        # Older batches keep their chunks (the indexes and read_document need them) but not the
        # per-store lists, which only the live batch's readers use.
        for old in range(max(1, version - KEEP_LISTS - 4), version - KEEP_LISTS + 1):
            for name in ("documents.json", "records.jsonl"):
                (self.batch_dir(store, old) / name).unlink(missing_ok=True)

    def bump_generation(self) -> None:
        """Tell every worker that the knowledge changed: after the indexes show the change.

        O_APPEND writes are atomic, so concurrent writers (other stores, the CLI) need no lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._generation_path, "ab") as out:
            out.write(b".")

    @contextmanager
    def lock(self, store: str) -> Iterator[None]:
        """One writer per store, across processes (workers, the CLI)."""
        directory = self.store_dir(store)
        directory.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{store}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
