"""Knowledge stores on disk: create, replace documents, delete, list. Synchronous (thread pool, CLI).

Layout under KB_DIR (DATA_DIR/kb):
    <store>/v000007/...   immutable versions (see vector_store.py)
    <store>/CURRENT       the name of the live version, replaced atomically
    <store>.lock          one writer per store, across processes (workers, the CLI)
    GENERATION            grows by one byte with every change to any store: caches key on its size
A write builds a complete new version beside the old one, then switches CURRENT: readers never
see a half-written store, and a failed write leaves the old version live.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from backend.core.config import Settings
from backend.core.knowledge.retrieval.embeddings import StoreEmbedder, Vectors, create_embedder
from backend.core.knowledge.retrieval.vector_store import StoreInfo, read_chunks, read_info, write_version
from backend.core.knowledge.store.documents import Chunk, Document, chunk_document, valid_store_name
from backend.core.logging import get_logger

log = get_logger("knowledge")

KEEP_VERSIONS = 2  # the live one and the one before, for readers still finishing a search


class StoreNotFound(LookupError):
    pass


class DocumentNotFound(LookupError):
    pass


class InvalidStoreName(ValueError):
    pass


def _embedding_text(chunk: Chunk) -> str:
    return f"{chunk.title}\n{chunk.text}"


class KnowledgeRepository:
    def __init__(
        self, settings: Settings, embedder_factory: Callable[[Settings], StoreEmbedder] = create_embedder
    ) -> None:
        self.settings = settings
        self.root = settings.kb_dir
        self._embedder_factory = embedder_factory
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
        return int(name.removeprefix("v"))

    def version_dir(self, store: str, version: int) -> Path:
        return self.store_dir(store) / f"v{version:06d}"

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
        return read_info(self._current_dir(store))

    def list_stores(self) -> list[StoreInfo]:
        if not self.root.exists():
            return []
        stores = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and (path / "CURRENT").exists():
                stores.append(self.info(path.name))
        return stores

    def _current_dir(self, store: str) -> Path:
        version = self.current_version(store)
        if version is None:
            raise StoreNotFound(store)
        return self.version_dir(store, version)

    def read_document(self, store: str, doc_id: str) -> list[Chunk]:
        """A document's chunks in order; a scan of the store's chunk file, for a person's click."""
        chunks = sorted(
            (chunk for chunk in read_chunks(self._current_dir(store)) if chunk.doc_id == doc_id),
            key=lambda chunk: chunk.position,
        )
        if not chunks:
            raise DocumentNotFound(doc_id)
        return chunks

    def list_documents(self, store: str, offset: int, limit: int) -> tuple[list[tuple[str, str]], int]:
        """(id, title) of documents in store order from `offset`, and how many there are."""
        seen: dict[str, str] = {}
        for chunk in read_chunks(self._current_dir(store)):
            seen.setdefault(chunk.doc_id, chunk.title)
        return list(seen.items())[offset : offset + limit], len(seen)

    def new_embedder(self) -> StoreEmbedder:
        return self._embedder_factory(self.settings)

    # --- writing ---------------------------------------------------------------------------

    def upsert(
        self,
        store: str,
        documents: Iterable[Document],
        *,
        on_progress: Callable[[int], None] | None = None,
        only_if_missing: bool = False,
    ) -> StoreInfo:
        """Add documents, replacing any with the same id; atomic (a new version, or nothing).

        With only_if_missing, nothing happens when the store exists (decided under the lock, so
        workers starting together create it once).
        """
        if only_if_missing:
            with self._write_lock(store):
                if self.current_version(store) is not None:
                    return self.info(store)
                return self._upsert_locked(store, documents, on_progress)
        with self._write_lock(store):
            return self._upsert_locked(store, documents, on_progress)

    def _upsert_locked(
        self, store: str, documents: Iterable[Document], on_progress: Callable[[int], None] | None
    ) -> StoreInfo:
        incoming: dict[str, Document] = {}
        for document in documents:
            incoming[document.id] = document  # the last one with an id wins
        new_chunks: list[Chunk] = []
        for done, document in enumerate(incoming.values(), 1):
            new_chunks.extend(chunk_document(document))
            if on_progress and done % 100 == 0:
                on_progress(100)
        if on_progress:
            on_progress(len(incoming) % 100)
        return self._rewrite(store, drop=set(incoming), add=new_chunks, create=True)

    def delete_document(self, store: str, doc_id: str) -> StoreInfo:
        with self._write_lock(store):
            return self._rewrite(store, drop={doc_id}, add=[], create=False, must_drop=doc_id)

    def delete_store(self, store: str) -> None:
        directory = self.store_dir(store)
        with self._write_lock(store):
            if not (directory / "CURRENT").exists():
                raise StoreNotFound(store)
            # Renamed first, so the store disappears at once even if removal takes a while.
            trash = directory.with_name(f".deleted-{store}-{uuid.uuid4().hex[:8]}")
            directory.rename(trash)
            self._bump_generation()
        shutil.rmtree(trash, ignore_errors=True)
        log.info("store deleted", extra={"store": store})

    def _rewrite(
        self, store: str, *, drop: set[str], add: list[Chunk], create: bool, must_drop: str | None = None
    ) -> StoreInfo:
        """Build and publish the next version; the caller holds the store's write lock."""
        directory = self.store_dir(store)
        current = self.current_version(store)
        if current is None and not create:
            raise StoreNotFound(store)
        old_dir = self.version_dir(store, current) if current is not None else None
        kept: list[tuple[int, Chunk]] = []
        if old_dir is not None:
            old = list(read_chunks(old_dir))
            if must_drop is not None and all(c.doc_id != must_drop for c in old):
                raise DocumentNotFound(must_drop)
            kept = [(i, c) for i, c in enumerate(old) if c.doc_id not in drop]
        chunks = [c for _, c in kept] + add
        embedder = self.new_embedder()
        vectors = self._vectors(embedder, old_dir, kept, add)
        version = (current or 0) + 1
        info = StoreInfo(
            name=store,
            version=version,
            documents=len({c.doc_id for c in chunks}),
            chunks=len(chunks),
            index_type="",
            embedder=embedder.identity,
        )
        staging = directory / f".staging-{uuid.uuid4().hex}"
        try:
            info = write_version(
                staging, info, chunks, vectors, embedder, self.settings.exact_index_max_vectors
            )
            staging.rename(self.version_dir(store, version))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._publish(store, version)
        log.info("store written", extra={"store": store, "version": version, "chunks": len(chunks)})
        return info

    @staticmethod
    def _vectors(
        embedder: StoreEmbedder, old_dir: Path | None, kept: list[tuple[int, Chunk]], add: list[Chunk]
    ) -> Vectors:
        texts = [_embedding_text(c) for _, c in kept] + [_embedding_text(c) for c in add]
        if embedder.corpus_fitted or old_dir is None or not kept:
            # A corpus-fitted embedder (IDF) changes with the corpus: re-fit, re-embed everything.
            embedder.fit(texts)
            return embedder.embed_array(texts)
        import faiss

        old_index = faiss.read_index(str(old_dir / "index.faiss"), faiss.IO_FLAG_MMAP_IFC)
        reused = np.vstack([old_index.reconstruct(i) for i, _ in kept]).astype(np.float32)
        return np.vstack([reused, embedder.embed_array([_embedding_text(c) for c in add])])

    def _publish(self, store: str, version: int) -> None:
        directory = self.store_dir(store)
        pointer = directory / f".CURRENT-{uuid.uuid4().hex}"
        pointer.write_text(f"v{version:06d}\n")
        os.replace(pointer, directory / "CURRENT")  # atomic: readers see the old or the new name
        self._bump_generation()
        for old in sorted(directory.glob("v[0-9]*"))[:-KEEP_VERSIONS]:
            shutil.rmtree(old, ignore_errors=True)

    def _bump_generation(self) -> None:
        # After the change is visible (CURRENT switched): whoever sees the new size sees the change.
        # O_APPEND writes are atomic, so concurrent writers (other stores, the CLI) need no lock.
        with open(self._generation_path, "ab") as out:
            out.write(b".")

    @contextmanager
    def _write_lock(self, store: str) -> Iterator[None]:
        directory = self.store_dir(store)
        directory.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{store}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
