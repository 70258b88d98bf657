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
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel

from backend.core.config import Settings
from backend.core.knowledge.store.documents import Chunk, Document, chunk_document, valid_store_name
from backend.core.logging import get_logger

log = get_logger("knowledge")

KEEP_LISTS = 2  # batches that keep their documents/records lists: the live one and the one before
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


class StoreNotFound(LookupError):
    pass


class DocumentNotFound(LookupError):
    pass


class InvalidStoreName(ValueError):
    pass


class LegacyStore(RuntimeError):
    """A store written by the hashed-embedding release: `python -m backend.cli kb rebuild` converts it."""


class StoreInfo(BaseModel):
    name: str
    version: int
    documents: int
    chunks: int
    built_at: float = 0.0
    cjk_share: float = 0.5  # share of CJK among letters in its text: which questions it can answer
    index_type: str = "lexical"
    embedder: str = ""  # the model whose stored embeddings the dense index uses, if any


@dataclass(frozen=True, slots=True)
class Batch:
    version: int
    chunks: list[Chunk]
    deleted: list[str]


def chunk_key(version: int, position: int) -> str:
    """A chunk's identity for every index: the batch that added it and its place in that batch."""
    return f"{version}:{position}"


def cjk_share(texts: list[str], sample: int = 2000) -> float:
    step = max(1, len(texts) // sample)
    text = "".join(texts[::step])
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return round(cjk / (cjk + latin), 3) if cjk + latin else 0.5


def model_slug(identity: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", identity)[:120]


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
        for version in range(since + 1, current + 1):
            yield self.read_batch(store, version)

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
        incoming: dict[str, Document] = {}
        for document in documents:
            incoming[document.id] = document  # the last one with an id wins
        current = self.current_version(store)
        if current is None and must_exist is not None:
            raise StoreNotFound(store)
        live: dict[str, list[Any]] = self.documents(store) if current is not None else {}
        if must_exist is not None and must_exist not in live:
            raise DocumentNotFound(must_exist)
        version = (current or 0) + 1
        chunks: list[Chunk] = []
        for done, document in enumerate(incoming.values(), 1):
            chunks.extend(chunk_document(document))
            if on_progress and done % 100 == 0:
                on_progress(100)
        if on_progress:
            on_progress(len(incoming) % 100)
        removed = sorted(doc_id for doc_id in set(incoming) | delete if doc_id in live)
        for doc_id in removed:
            del live[doc_id]
        for document in incoming.values():
            if document.id not in delete:
                live[document.id] = [version, document.title]
        chunks = [c for c in chunks if c.doc_id not in delete]
        previous = self.info(store) if current is not None else None
        info = StoreInfo(
            name=store,
            version=version,
            documents=len(live),
            chunks=(previous.chunks if previous else 0) + len(chunks) - self._chunks_of(store, live, removed),
            built_at=time.time(),
            cjk_share=self._share(previous, [c.text for c in chunks]),
        )
        directory = self.store_dir(store)
        staging = directory / f".staging-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            with (staging / "chunks.jsonl").open("wb") as out:
                for chunk in chunks:
                    out.write(orjson.dumps(chunk.model_dump()) + b"\n")
            (staging / "deleted.json").write_bytes(orjson.dumps(removed))
            (staging / "documents.json").write_bytes(orjson.dumps(live))
            self._write_records(
                store, current, staging, [d for d in incoming.values() if d.id not in delete], set(removed)
            )
            (staging / "meta.json").write_text(info.model_dump_json(indent=2))
            target = self.batch_dir(store, version)
            target.parent.mkdir(exist_ok=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._publish(store, version)
        log.info("store written", extra={"store": store, "version": version, "chunks": len(chunks)})
        return info

    def _chunks_of(self, store: str, live: dict[str, list[Any]], removed: list[str]) -> int:
        """How many chunks the removed documents had (read from the batches that added them)."""
        if not removed:
            return 0
        wanted = set(removed)
        batches: set[int] = set()
        for version in self._batches_holding(store, wanted):
            batches.add(version)
        return sum(
            1
            for version in batches
            for chunk in read_chunks(self.batch_dir(store, version) / "chunks.jsonl")
            if chunk.doc_id in wanted
        )

    def _batches_holding(self, store: str, doc_ids: set[str]) -> set[int]:
        current = self.current_version(store)
        if current is None:
            return set()
        documents = self.documents(store)
        return {documents[d][0] for d in doc_ids if d in documents}

    @staticmethod
    def _share(previous: StoreInfo | None, texts: list[str]) -> float:
        share = cjk_share(texts) if texts else 0.5
        if previous is None or previous.chunks == 0:
            return share
        if not texts:
            return previous.cjk_share
        weight = len(texts) / (len(texts) + previous.chunks)
        return round(previous.cjk_share * (1 - weight) + share * weight, 3)

    def _write_records(
        self, store: str, current: int | None, staging: Path, incoming: list[Document], removed: set[str]
    ) -> None:
        """The live disease records: the previous list less what this batch removed, plus its own."""
        with (staging / "records.jsonl").open("wb") as out:
            if current is not None and (old := self.records_path(store, current)).exists():
                with old.open("rb") as source:
                    for line in source:
                        if orjson.loads(line)["id"] not in removed:
                            out.write(line)
            for document in incoming:
                if document.metadata.get("kind") == "disease":
                    out.write(orjson.dumps({**document.metadata, "id": document.id}) + b"\n")

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

    def _publish(self, store: str, version: int) -> None:
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


def read_chunks(path: Path) -> Iterator[Chunk]:
    with path.open("rb") as source:
        for line in source:
            yield Chunk.model_validate(orjson.loads(line))
