"""The shapes the knowledge repository deals in: a store's description, its write batches, errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from backend.core.knowledge.store.documents import Chunk, Document

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
    # Names the batch in the system of record; "" for a batch written only on this host (before
    # the database held knowledge, or while it was down).
    batch_id: str = ""


@dataclass(frozen=True, slots=True)
class Batch:
    version: int
    chunks: list[Chunk]
    deleted: list[str]


@dataclass(slots=True)
class PendingBatch:
    """One write, composed against the store's live state and not yet written anywhere."""

    info: StoreInfo  # the store after it
    chunks: list[Chunk]  # what it adds, in index order
    removed: list[str]  # live document ids it removes (deleted, or replaced)
    documents: list[Document]  # the documents it adds (live after it)
    records: list[dict[str, Any]] = field(default_factory=list)  # their structured disease records


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


def read_chunks(path: Path) -> Iterator[Chunk]:
    with path.open("rb") as source:
        for line in source:
            yield Chunk.model_validate(orjson.loads(line))


def disease_record(document: Document) -> dict[str, Any] | None:
    """The structured record a disease document carries (kept with the store's records)."""
    if document.metadata.get("kind") != "disease":
        return None
    return {**document.metadata, "id": document.id}
