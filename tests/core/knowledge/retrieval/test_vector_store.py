"""Exact search reads only the rows a query uses, yet ranks exactly as a full scan would."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from backend.core.knowledge.retrieval import vector_store
from backend.core.knowledge.retrieval.vector_store import LoadedStore, exact_search
from backend.core.knowledge.store.repository import KnowledgeRepository
from tests.core.knowledge.conftest import doc


def _full_scan(vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-(vectors @ query[0]), kind="stable")[:k]]


@pytest.mark.parametrize("nonzero", [12, 512], ids=["sparse query", "dense query"])
@pytest.mark.parametrize("block", [64, vector_store.EXACT_BLOCK], ids=["several blocks", "one block"])
def test_exact_search_ranks_as_a_full_scan(nonzero: int, block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_store, "EXACT_BLOCK", block)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 512)).astype(np.float32)
    query = np.zeros((1, 512), dtype=np.float32)
    query[0, rng.choice(512, nonzero, replace=False)] = rng.standard_normal(nonzero)

    scores, positions = exact_search(np.ascontiguousarray(vectors.T), query, 10)

    assert positions.tolist() == _full_scan(vectors, query, 10)
    assert np.allclose(scores, vectors[positions] @ query[0], atol=1e-4)
    assert list(scores) == sorted(scores, reverse=True)


def test_exact_search_asked_for_more_than_the_store_holds_returns_all_best_first() -> None:
    vectors = np.eye(3, 8, dtype=np.float32) * np.array([[1.0], [3.0], [2.0]], dtype=np.float32)
    query = np.ones((1, 8), dtype=np.float32)
    _, positions = exact_search(np.ascontiguousarray(vectors.T), query, 10)
    assert positions.tolist() == [1, 2, 0]


def test_a_store_written_with_a_faiss_flat_index_still_searches_the_same(
    repository: KnowledgeRepository,
) -> None:
    repository.upsert("s", [doc("bp", "高血压患者应限制食盐摄入"), doc("dm", "糖尿病患者应定期检查眼底")])
    directory = repository.version_dir("s", 1)
    loaded = LoadedStore(directory, repository.new_embedder())
    expected = [(h.doc_id, round(h.score, 5)) for h in loaded.search(loaded.embed_query("高血压 食盐"), 2)]
    loaded.close()
    # The format of earlier releases: the same vectors in a FAISS IndexFlatIP, no vectors.npy.
    columns = np.load(directory / "vectors.npy")
    flat = faiss.IndexFlatIP(columns.shape[0])
    flat.add(np.ascontiguousarray(columns.T))
    faiss.write_index(flat, str(directory / "index.faiss"))
    (directory / "vectors.npy").unlink()

    legacy = LoadedStore(directory, repository.new_embedder())
    found = [(h.doc_id, round(h.score, 5)) for h in legacy.search(legacy.embed_query("高血压 食盐"), 2)]
    assert found == expected
    assert found[0][0] == "bp"
