"""What a search returns: passages with a calibrated relevance, and whether it ran degraded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage (chunk) of a store. Several hits may share a `doc_id` (one per field of a record).

    `score` is a relevance in [0, 1] that compares across questions and stores: lexically, the
    share of the question's weighted terms the passage matches (BM25 over its upper bound, see
    lexical.py); in a hybrid search, the same blended with the dense similarity (fusion.py).
    """

    store: str
    doc_id: str
    title: str
    text: str
    score: float
    metadata: dict[str, Any]
    key: str = ""  # the chunk's identity in its store (batch:position)


@dataclass(slots=True)
class Retrieval:
    hits: list[Hit]
    degraded: bool = False  # the embedding model was wanted but failed: lexical results only
    terms: list[str] = field(default_factory=list)  # the question's terms, for snippets
