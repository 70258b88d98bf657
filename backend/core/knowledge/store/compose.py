"""Composing a write: the next batch of a store, cut into chunks against its live state.

Shared by the local write (repository.write_locked) and the replicated one (replication.py), which
composes on the writer's host, commits to the system of record, and only then applies it anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from backend.core.knowledge.store.documents import Chunk, Document, chunk_document
from backend.core.knowledge.store.models import (
    DocumentNotFound,
    PendingBatch,
    StoreInfo,
    StoreNotFound,
    cjk_share,
    disease_record,
    read_chunks,
)

if TYPE_CHECKING:
    from backend.core.knowledge.store.repository import KnowledgeRepository


def compose_batch(
    repository: KnowledgeRepository,
    store: str,
    documents: Iterable[Document],
    delete: set[str],
    on_progress: Callable[[int], None] | None = None,
    *,
    must_exist: str | None = None,
    base: int = 0,
) -> PendingBatch:
    """See KnowledgeRepository.compose."""
    incoming: dict[str, Document] = {}
    for document in documents:
        incoming[document.id] = document  # the last one with an id wins
    current = repository.current_version(store)
    if current is None and must_exist is not None:
        raise StoreNotFound(store)
    live: dict[str, list[Any]] = repository.documents(store) if current is not None else {}
    if must_exist is not None and must_exist not in live:
        raise DocumentNotFound(must_exist)
    chunks: list[Chunk] = []
    for done, document in enumerate(incoming.values(), 1):
        chunks.extend(chunk_document(document))
        if on_progress and done % 100 == 0:
            on_progress(100)
    if on_progress:
        on_progress(len(incoming) % 100)
    removed = sorted(doc_id for doc_id in set(incoming) | delete if doc_id in live)
    kept = [d for d in incoming.values() if d.id not in delete]
    chunks = [c for c in chunks if c.doc_id not in delete]
    previous = repository.info(store) if current is not None else None
    info = StoreInfo(
        name=store,
        version=(current if current is not None else base) + 1,
        documents=len(live) - len(removed) + len(kept),
        chunks=(previous.chunks if previous else 0)
        + len(chunks)
        - _chunks_of(repository, store, live, removed),
        built_at=time.time(),
        cjk_share=_share(previous, [c.text for c in chunks]),
    )
    records = [record for d in kept if (record := disease_record(d)) is not None]
    return PendingBatch(info, chunks, removed, kept, records)


def _chunks_of(
    repository: KnowledgeRepository, store: str, live: dict[str, list[Any]], removed: list[str]
) -> int:
    """How many chunks the removed documents had (read from the batches that added them)."""
    if not removed:
        return 0
    wanted = set(removed)
    batches = {live[d][0] for d in wanted if d in live}
    return sum(
        1
        for version in batches
        for chunk in read_chunks(repository.batch_dir(store, version) / "chunks.jsonl")
        if chunk.doc_id in wanted
    )


def _share(previous: StoreInfo | None, texts: list[str]) -> float:
    share = cjk_share(texts) if texts else 0.5
    if previous is None or previous.chunks == 0:
        return share
    if not texts:
        return previous.cjk_share
    weight = len(texts) / (len(texts) + previous.chunks)
    return round(previous.cjk_share * (1 - weight) + share * weight, 3)
