"""Writes to a store, and the indexes derived from it: the one way documents get in or out.

Every write goes to the repository (the source of truth) as one batch, and then, still under the
store's lock, the indexes catch up with it: the lexical index applies the new batches (a segment,
tombstones), and when an embedding model is configured the new chunks are embedded once and their
vectors stored in the repository. Only then does the knowledge base's generation move, so a worker
that sees the new generation finds the indexes ready. `sync` does the catching up alone: at start
(a write that crashed between the batch and its index), and for a replica whose repository is
shared (issue 15). The cost of a write is the cost of its own documents.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from backend.core.config import Settings
from backend.core.knowledge.retrieval.analysis import Analyzer, read_user_dictionary
from backend.core.knowledge.retrieval.embeddings import (
    EmbeddingUnavailable,
    PassageEmbedder,
    create_passage_embedder,
    model_identity,
)
from backend.core.knowledge.retrieval.lexical import (
    apply_batches,
    indexed_version,
    lexical_dir,
    read_lexicon,
    write_lexicon,
)
from backend.core.knowledge.store.documents import Chunk, Document
from backend.core.knowledge.store.repository import KnowledgeRepository, StoreInfo, StoreNotFound
from backend.core.logging import get_logger

log = get_logger("knowledge")

Progress = Callable[[int], None] | None


def dictionary_words(repository: KnowledgeRepository, store: str, version: int) -> list[str]:
    """The lexicon a store's index is built with: the starter graph's names, aliases and symptom
    words, the store's own disease records, and the optional user dictionary (LEXICON_USER_DICT)."""
    from backend.core.knowledge.graph.diseases import starter_diseases
    from backend.core.knowledge.graph.graph import starter_symptom_aliases

    words: list[str] = []
    for record in starter_diseases():
        words += [record.name, *record.aliases, *record.symptoms, *record.checks, *record.complications]
    for name, forms in starter_symptom_aliases().items():
        words += [name, *forms]
    path = repository.records_path(store, version)
    if path.exists():
        with path.open("rb") as source:
            for line in source:
                row: dict[str, Any] = orjson.loads(line)
                words += [row.get("name", ""), *row.get("aliases", []), *row.get("symptoms", [])]
    words += read_user_dictionary(repository.settings.lexicon_user_dict)
    return [word for word in words if word]


class Indexer:
    def __init__(self, repository: KnowledgeRepository) -> None:
        self.repository = repository
        self.settings: Settings = repository.settings
        self.identity = model_identity(self.settings)
        self._passages: PassageEmbedder | None = None

    # --- writes ----------------------------------------------------------------------------

    def upsert(
        self,
        store: str,
        documents: Iterable[Document],
        *,
        on_progress: Progress = None,
        only_if_missing: bool = False,
        delete: Iterable[str] = (),
    ) -> StoreInfo:
        """Add documents (same id replaces) and remove `delete`: one batch, indexed before it shows."""
        with self.repository.lock(store):
            if only_if_missing and self.repository.current_version(store) is not None:
                return self.repository.info(store)
            info = self.repository.write_locked(store, documents, set(delete), on_progress)
            self.sync_locked(store)
        self.repository.bump_generation()
        return info

    def delete_document(self, store: str, doc_id: str) -> StoreInfo:
        with self.repository.lock(store):
            info = self.repository.write_locked(store, [], {doc_id}, must_exist=doc_id)
            self.sync_locked(store)
        self.repository.bump_generation()
        return info

    def delete_store(self, store: str) -> None:
        self.repository.delete_store(store)

    # --- derived indexes -------------------------------------------------------------------

    def sync(self, store: str) -> bool:
        """Bring the store's indexes up to its live batch; True when anything changed."""
        with self.repository.lock(store):
            changed = self.sync_locked(store)
        if changed:
            self.repository.bump_generation()
        return changed

    def sync_all(self) -> None:
        for info in self.repository.list_stores():
            self.sync(info.name)

    def rebuild(self, store: str) -> StoreInfo:
        """A fresh lexical index (and lexicon) from the repository, swapped in whole."""
        with self.repository.lock(store):
            version = self.repository.current_version(store)
            if version is None:
                raise StoreNotFound(store)
            final = lexical_dir(self.repository, store)
            staging = final.with_name(f".lexical-{uuid.uuid4().hex}")
            try:
                self._build(store, staging, version, since=0)
                trash = final.with_name(f".trash-{uuid.uuid4().hex}")
                if final.exists():
                    final.rename(trash)  # open readers keep their mapped files
                staging.rename(final)
                shutil.rmtree(trash, ignore_errors=True)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self._embed_missing(store, version)
        self.repository.bump_generation()
        return self.repository.info(store)

    def sync_locked(self, store: str) -> bool:
        version = self.repository.current_version(store)
        if version is None:
            return False
        directory = lexical_dir(self.repository, store)
        have = indexed_version(directory)
        changed = False
        if have < version:
            self._build(store, directory, version, since=have)
            changed = True
        return self._embed_missing(store, version) or changed

    def _build(self, store: str, directory: Any, version: int, *, since: int) -> None:
        if since == 0 or not (directory / "lexicon.txt").exists():
            write_lexicon(directory, dictionary_words(self.repository, store, version))
        analyzer = Analyzer(read_lexicon(directory))
        added = apply_batches(directory, analyzer, self.repository.batches(store, since), version)
        log.info("lexical index updated", extra={"store": store, "version": version, "chunks": added})

    def embed_chunks(self, store: str, chunks: list[Chunk]) -> npt.NDArray[np.float32] | None:
        """The configured model's embeddings of a new batch's chunks, or None (no model, or it
        failed: the batch is stored without them, and whoever next syncs it embeds it)."""
        if not self.identity or not chunks:
            return None
        try:
            if self._passages is None:
                self._passages = create_passage_embedder(self.settings)
            assert self._passages is not None
            return self._passages.embed([f"{c.title}\n{c.text}" for c in chunks])
        except EmbeddingUnavailable as exc:
            log.warning("passage embedding failed", extra={"store": store, "error": str(exc)})
            return None

    def _embed_missing(self, store: str, version: int) -> bool:
        """Embed the chunks of every batch that has no stored embeddings for the configured model.
        A failing model leaves them missing (dense search skips them) and is retried next time."""
        if not self.identity:
            return False
        changed = False
        for batch in range(self.repository.base_version(store) + 1, version + 1):
            if self.repository.has_embeddings(store, self.identity, batch):
                continue
            chunks = self.repository.read_batch(store, batch).chunks
            vectors = self.embed_chunks(store, chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
            if vectors is None:
                return changed
            self.repository.put_embeddings(store, self.identity, batch, vectors)
            changed = True
        return changed
