"""Stores of earlier versions, read back for the system of record.

- Written by the hashed-embedding release (CURRENT naming `v000007`): `kb rebuild` or
  `db import-legacy` turns each into documents written anew (`legacy_documents`).
- Written in the batch layout before the database held knowledge (batch id ""): `db import-legacy`
  adopts each batch as it is, versions and chunks unchanged, so this host's index stays valid
  (`adopt_batches`).
Only chunks were kept, so a document is put back together: a disease document from its record (so
it is chunked by field again), another from its chunks joined, the splitter's overlap removed.
"""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson

from backend.core.knowledge.store.documents import Chunk, Document
from backend.core.knowledge.store.models import PendingBatch, StoreInfo

if TYPE_CHECKING:
    from backend.core.knowledge.store.repository import KnowledgeRepository

OVERLAP_MAX = 200

Adopted = list[tuple[PendingBatch, npt.NDArray[np.float32] | None]]


def legacy_documents(store_dir: Path) -> Iterator[Document]:
    version = (store_dir / "CURRENT").read_text().strip()
    rows: dict[str, list[Chunk]] = {}
    with (store_dir / version / "chunks.jsonl").open("rb") as source:
        for line in source:
            chunk = Chunk.model_validate(orjson.loads(line))
            rows.setdefault(chunk.doc_id, []).append(chunk)
    for doc_id, chunks in rows.items():
        metadata = chunks[0].metadata or {}
        record = {**metadata, "id": doc_id} if metadata.get("kind") == "disease" else None
        yield _document(doc_id, chunks[0].title, chunks, record)


def _without_overlap(before: str, after: str) -> str:
    for size in range(min(OVERLAP_MAX, len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[size:]
    return "\n" + after


def set_aside(store_dir: Path) -> Path:
    """Move the legacy store out of the way (kept until the rebuilt one is written)."""
    target = store_dir.with_name(f".legacy-{store_dir.name}")
    shutil.rmtree(target, ignore_errors=True)
    store_dir.rename(target)
    return target


def _document(doc_id: str, title: str, chunks: list[Chunk], record: dict[str, Any] | None) -> Document:
    from backend.core.knowledge.graph.diseases import DiseaseRecord

    if record is not None:
        return DiseaseRecord.model_validate(record).to_document()
    chunks = sorted(chunks, key=lambda chunk: chunk.position)
    text = chunks[0].text if chunks else title
    for chunk in chunks[1:]:
        text += _without_overlap(text, chunk.text)
    return Document(id=doc_id, title=title, text=text, metadata=chunks[0].metadata if chunks else {})


def adopt_batches(repository: KnowledgeRepository, store: str, identity: str) -> Adopted:
    """Every live-history batch of a local store as a composed batch with a new id, oldest first."""
    current = repository.current_version(store)
    if current is None:
        return []
    live = repository.documents(store)
    records: dict[str, dict[str, Any]] = {}
    path = repository.records_path(store, current)
    if path.exists():
        for line in path.read_bytes().splitlines():
            row = orjson.loads(line)
            records[row["id"]] = row
    added: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for doc_id, (version, title) in live.items():
        added[version].append((doc_id, title))
    adopted: Adopted = []
    for version in range(repository.base_version(store) + 1, current + 1):
        batch = repository.read_batch(store, version)
        meta = (repository.batch_dir(store, version) / "meta.json").read_bytes()
        info = StoreInfo.model_validate_json(meta).model_copy(update={"batch_id": uuid.uuid4().hex})
        by_document: dict[str, list[Chunk]] = defaultdict(list)
        for chunk in batch.chunks:
            by_document[chunk.doc_id].append(chunk)
        documents = []
        for doc_id, title in added.get(version, []):
            documents.append(_document(doc_id, title, by_document.get(doc_id, []), records.get(doc_id)))
        vectors = None
        if identity and repository.has_embeddings(store, identity, version):
            vectors = np.array(repository.load_embeddings(store, identity, version))
        pending = PendingBatch(
            info,
            batch.chunks,
            batch.deleted,
            documents,
            [records[d.id] for d in documents if d.id in records],
        )
        adopted.append((pending, vectors))
    return adopted
