"""Searching several stores: the best hits of all, the named disease first, few chunks read."""

from __future__ import annotations

import random
from typing import Any

import pytest

from backend.core.config import Settings
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.retrieval.hits import Hit
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.searcher import Ranked, StoreSearcher
from backend.core.knowledge.service import NAMED_DISEASE_BOOST, _search_all
from backend.core.knowledge.store.repository import KnowledgeRepository
from tests.core.knowledge.conftest import doc

WORDS = ["咳嗽", "发热", "高血压", "头痛", "糖尿病", "胸闷", "治疗", "症状", "饮食", "检查", "预防"]


class _NamesAsthma:
    """The graph's extractor, as far as this test needs it: 哮喘 is disease `asthma`."""

    def extract(self, query: str) -> list[ExtractedEntity]:
        at = query.find("哮喘")
        return [ExtractedEntity("哮喘", "disease", "哮喘", at, at + 2, "asthma")] if at >= 0 else []


def _stores(repository: KnowledgeRepository) -> list[StoreSearcher]:
    rng = random.Random(3)
    indexer = Indexer(repository)
    for store in ("one", "two", "three"):
        docs = [doc("asthma", "哮喘的症状是咳嗽和胸闷，治疗用吸入剂。", title="哮喘")]
        docs += [doc(f"{store}-{i}", "".join(rng.choices(WORDS, k=12)), title="-") for i in range(60)]
        indexer.upsert(store, docs)
    return [StoreSearcher(repository, repository.info(store), "") for store in ("one", "two", "three")]


def _read_everything(stores: list[StoreSearcher], query: str, top_k: int, named: set[str]) -> list[Hit]:
    """What _search_all answered when it read every candidate of every store."""
    candidates = max(top_k * 3, 20) if named else top_k
    ranked = [found for store in stores for found in store.search(query, [], None, candidates)]
    ranked.sort(key=lambda f: f[0] * (NAMED_DISEASE_BOOST if f[1].doc_id in named else 1.0), reverse=True)
    return [hit for _, hit in ranked[:top_k]]


@pytest.mark.parametrize("query", ["哮喘咳嗽怎么治疗", "高血压头痛", "糖尿病饮食检查", "发热胸闷的症状"])
def test_the_hits_are_those_of_reading_every_candidate_with_fewer_chunks_read(
    repository: KnowledgeRepository, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    stores = _stores(repository)
    named = {"asthma"} if "哮喘" in query else set()
    expected = _read_everything(stores, query, 5, named)
    reads = 0
    for store in stores:
        original = store.lexical.hit

        def counted(relevance: float, address: Any, original: Any = original) -> Any:
            nonlocal reads
            reads += 1
            return original(relevance, address)

        monkeypatch.setattr(store.lexical, "hit", counted)

    found = _search_all(stores, _NamesAsthma(), query, None, 5, Settings())  # type: ignore[arg-type]

    assert [(h.store, h.doc_id, h.score) for h in found] == [(h.store, h.doc_id, h.score) for h in expected]
    if named:
        assert "asthma" in {h.doc_id for h in found}
    assert reads < 3 * (20 if named else 5)


class _Reader:
    def __init__(self) -> None:
        self.read: list[str] = []

    def hit(self, relevance: float, address: str) -> Hit:
        self.read.append(address)
        return Hit("s", address, address, "", relevance, {}, address)


class _Store:
    """A store that ranked these (relevance, doc id) for every question."""

    def __init__(self, ranks: list[tuple[float, str]]) -> None:
        self.reader = _Reader()
        self.ranks = ranks

    def ranked(self, query: str, synonyms: list[str], vector: Any, top_k: int, **_: Any) -> list[Ranked]:
        return [Ranked(r, self.reader, r, doc_id) for r, doc_id in self.ranks[:top_k]]  # type: ignore[arg-type]


def test_the_named_disease_below_the_top_k_moves_up_and_what_cannot_is_never_read() -> None:
    ranks = [(1.0, "a1"), (0.9, "a2"), (0.8, "a3"), (0.7, "a4"), (0.6, "a5"), (0.55, "asthma"), (0.4, "a6")]
    store = _Store(ranks)

    found = _search_all([store], _NamesAsthma(), "哮喘怎么办", None, 5, Settings())  # type: ignore[list-item, arg-type]

    # 0.55 x 1.3 = 0.715 beats a4 and a5; a6 at best 0.52 cannot beat the fifth (0.7), so it stays unread.
    assert [h.doc_id for h in found] == ["a1", "a2", "a3", "asthma", "a4"]
    assert store.reader.read == ["a1", "a2", "a3", "a4", "a5", "asthma"]
