"""One store opened for search in a worker: its lexical snapshot and, with a model, its dense index.

Opened after the fork, in the worker, from files every worker maps: opening costs a few
milliseconds, and a worker holds little of its own (the analyzer's dictionary automaton, shared
between stores with the same lexicon).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from backend.core.knowledge.retrieval.analysis import Analyzer
from backend.core.knowledge.retrieval.dense import DenseReader
from backend.core.knowledge.retrieval.embeddings import Vectors
from backend.core.knowledge.retrieval.fusion import Fusion, fuse
from backend.core.knowledge.retrieval.hits import Hit
from backend.core.knowledge.retrieval.lexical import LexicalReader, lexical_dir, read_lexicon
from backend.core.knowledge.store.repository import KnowledgeRepository, StoreInfo


@lru_cache(maxsize=8)
def _analyzer(digest: str, words: tuple[str, ...]) -> Analyzer:
    return Analyzer(words)


def analyzer_for(words: list[str]) -> Analyzer:
    """One analyzer per distinct lexicon in this worker."""
    digest = hashlib.blake2b("\n".join(words).encode(), digest_size=16).hexdigest()
    return _analyzer(digest, tuple(words))


class StoreSearcher:
    def __init__(self, repository: KnowledgeRepository, info: StoreInfo, identity: str) -> None:
        self.info = info
        directory = lexical_dir(repository, info.name)
        self.lexical = LexicalReader(info.name, directory, analyzer_for(read_lexicon(directory)))
        self.dense = DenseReader(repository, info.name, identity, info.version) if identity else None
        if self.dense is not None and self.dense.size == 0:
            self.dense = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.lexical.version

    def search(
        self,
        query: str,
        synonyms: list[str],
        vector: Vectors | None,
        top_k: int,
        *,
        fusion: Fusion = "rrf",
        weight: float = 0.5,
        floor: float = 0.7,
    ) -> list[tuple[float, Hit]]:
        """(rank score, hit) best first; the rank score orders hits of several stores alike."""
        found = self.ranked(query, synonyms, vector, top_k, fusion=fusion, weight=weight, floor=floor)
        return [(one.rank, one.read()) for one in found]

    def ranked(
        self,
        query: str,
        synonyms: list[str],
        vector: Vectors | None,
        top_k: int,
        *,
        fusion: Fusion = "rrf",
        weight: float = 0.5,
        floor: float = 0.7,
    ) -> list[Ranked]:
        """What `search` finds, best first, each read only when asked (Ranked.read)."""
        weights = self.lexical.query_terms(query, synonyms)
        if vector is None or self.dense is None:
            found = self.lexical.search(weights, top_k)
            return [Ranked(relevance, self.lexical, relevance, address) for relevance, address in found]
        return [
            Ranked(rank, self.lexical, 0.0, None, hit)
            for rank, hit in self._fused(weights, vector, top_k, fusion, weight, floor)
        ]

    def _fused(
        self,
        weights: dict[str, float],
        vector: Vectors,
        top_k: int,
        fusion: Fusion,
        weight: float,
        floor: float,
    ) -> list[tuple[float, Hit]]:
        assert self.dense is not None
        candidates = max(top_k * 3, 30)
        hits: dict[str, Hit] = {}
        lexical: list[tuple[float, str]] = []
        for relevance, address in self.lexical.search(weights, candidates):
            hit = self.lexical.hit(relevance, address)
            hits[hit.key] = hit
            lexical.append((relevance, hit.key))
        dense = self.dense.search(vector, candidates)
        out: list[tuple[float, Hit]] = []
        for rank, relevance, key in fuse(
            lexical, dense, method=fusion, weight=weight, floor=floor, top_k=len(lexical) + len(dense)
        ):
            chosen = hits.get(key)
            if chosen is None:
                address = self.lexical.by_key(key)
                if address is None:
                    continue  # deleted or replaced in this snapshot
                chosen = self.lexical.hit(0.0, address)
            out.append((rank, _rescored(chosen, relevance)))
            if len(out) == top_k:
                break
        return out


@dataclass(frozen=True, slots=True)
class Ranked:
    """A chunk a search ranked, its text not yet read: reading a chunk from the index costs more
    than finding it, and of the candidates of several stores only the best few are shown."""

    rank: float
    reader: LexicalReader
    relevance: float
    address: Any
    hit: Hit | None = None  # read already (fusion reads its candidates to merge them by key)

    def read(self) -> Hit:
        return self.hit if self.hit is not None else self.reader.hit(self.relevance, self.address)


def _rescored(hit: Hit, relevance: float) -> Hit:
    return Hit(hit.store, hit.doc_id, hit.title, hit.text, round(relevance, 4), hit.metadata, hit.key)
