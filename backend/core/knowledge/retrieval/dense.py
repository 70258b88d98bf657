"""Dense retrieval over a store's stored embeddings: exact inner product with FAISS, per batch.

Each batch's vectors are the repository's stored embeddings, memory-mapped (every worker shares the
page cache) and searched in place by `faiss.knn` (no copy into an index). The candidates are then
resolved through the lexical snapshot: a chunk deleted or replaced since is simply not found there,
so a dense hit is never of another version than the lexical ones it is fused with.
"""

from __future__ import annotations

import faiss
import numpy as np

from backend.core.knowledge.retrieval.embeddings import Vectors
from backend.core.knowledge.store.repository import KnowledgeRepository, chunk_key


class DenseReader:
    def __init__(self, repository: KnowledgeRepository, store: str, identity: str, version: int) -> None:
        self.identity = identity
        self._parts: list[tuple[int, Vectors]] = []
        for batch in range(1, version + 1):
            if repository.has_embeddings(store, identity, batch):
                vectors = repository.load_embeddings(store, identity, batch)
                if len(vectors):
                    self._parts.append((batch, vectors))
        self.size = sum(len(vectors) for _, vectors in self._parts)

    def search(self, query: Vectors, top_k: int) -> list[tuple[float, str]]:
        """(cosine, chunk key) of the nearest chunks over every batch, best first."""
        found: list[tuple[float, str]] = []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        for batch, vectors in self._parts:
            if vectors.shape[1] != query.shape[1]:
                continue  # another model's dimension: nothing comparable
            k = min(top_k, len(vectors))
            scores, positions = faiss.knn(query, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
            found.extend(
                (float(s), chunk_key(batch, int(p)))
                for s, p in zip(scores[0], positions[0], strict=True)
                if p >= 0
            )
        found.sort(key=lambda item: item[0], reverse=True)
        return found[:top_k]
