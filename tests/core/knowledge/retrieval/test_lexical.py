"""The lexical index: BM25 as its formula says, relevance in [0, 1], incremental writes = a rebuild."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from backend.core.knowledge.retrieval.analysis import Analyzer
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository
from tests.core.knowledge.conftest import doc

CORPUS = [
    ("a", "Asthma causes wheezing and shortness of breath; asthma attacks need an inhaler."),
    ("b", "Hypertension is high blood pressure. Lowering salt helps."),
    ("c", "Wheezing in children may be asthma or bronchiolitis."),
    ("d", "Diabetes raises blood sugar; check blood glucose and HbA1c."),
    ("e", "A chronic cough with wheezing can come from reflux."),
]


def _search(repository: KnowledgeRepository, store: str, query: str, k: int = 10) -> list[tuple[str, float]]:
    searcher = StoreSearcher(repository, repository.info(store), "")
    return [(hit.doc_id, hit.score) for _, hit in searcher.search(query, [], None, k)]


def test_analysis_gives_characters_bigrams_dictionary_words_and_stems() -> None:
    analyzer = Analyzer(["高血压", "糖尿"])  # two-character words are bigrams already: not added
    terms = analyzer.terms("高血压患者 Running WHEEZING of the")
    assert terms[:3] == ["高", "血", "压"]
    assert {"高血", "血压", "压患", "患者"} <= set(terms)
    assert terms.count("高血压") == 1
    assert "run" in terms
    assert "wheez" in terms
    assert "of" not in terms
    assert "the" not in terms
    assert analyzer.words == 1
    assert Analyzer().terms("ＣＯＰＤ１") == ["copd1"]  # full-width folded


def test_ranking_and_relevance_follow_bm25(repository: KnowledgeRepository) -> None:
    Indexer(repository).upsert("s", [doc(i, t, title="-") for i, t in CORPUS])
    analyzer = Analyzer()
    docs = {i: analyzer.terms(f"-\n{t}") for i, t in CORPUS}
    n = len(docs)
    average = sum(len(t) for t in docs.values()) / n
    query = "wheezing asthma inhaler"
    weights = Counter(analyzer.terms(query))

    def idf(term: str) -> float:
        df = sum(term in terms for terms in docs.values())
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    bound = sum(w * idf(t) * 2.2 for t, w in weights.items())
    expected = {}
    for doc_id, terms in docs.items():
        counts = Counter(terms)
        score = sum(
            w * idf(t) * counts[t] * 2.2 / (counts[t] + 1.2 * (0.25 + 0.75 * len(terms) / average))
            for t, w in weights.items()
        )
        if score:
            expected[doc_id] = score / bound
    found = _search(repository, "s", query)
    assert [doc_id for doc_id, _ in found] == sorted(expected, key=lambda d: -expected[d])
    for doc_id, relevance in found:
        assert relevance == pytest.approx(expected[doc_id], rel=0.02)
        assert 0 < relevance <= 1


def test_incremental_writes_rank_as_a_rebuild(repository: KnowledgeRepository) -> None:
    indexer = Indexer(repository)
    docs = [doc(f"d{i}", f"第{i}篇 感冒 发热 咳嗽 {'头痛' * (i % 3)} {'乏力' * (i % 4)}") for i in range(12)]
    indexer.upsert("inc", docs[:6])  # two batches, two segments
    indexer.upsert("inc", docs[6:])
    indexer.upsert("whole", docs)  # one
    for query in ("感冒 头痛", "乏力 发热", "咳嗽"):
        # Equal scores, in the same order; ties may come in segment order, so every hit is asked for
        # (a top 10 of 12 cuts a tie at a place that depends on segment order).
        incremental = sorted(_search(repository, "inc", query, 20), key=lambda found: (-found[1], found[0]))
        rebuilt = sorted(_search(repository, "whole", query, 20), key=lambda found: (-found[1], found[0]))
        assert incremental == rebuilt, query


def test_replaced_and_deleted_documents_leave_the_results(repository: KnowledgeRepository) -> None:
    indexer = Indexer(repository)
    docs = [doc(f"d{i}", f"第{i}篇 感冒 发热 咳嗽 {'头痛' * (i % 3)}") for i in range(12)]
    indexer.upsert("inc", docs)
    replaced = doc("d2", "第2篇 胃痛 反酸 烧心")
    indexer.upsert("inc", [replaced])
    indexer.delete_document("inc", "d5")
    indexer.upsert("whole", [d for d in docs if d.id not in {"d2", "d5"}] + [replaced])
    for query in ("感冒 头痛", "胃痛 烧心", "咳嗽"):
        incremental = _search(repository, "inc", query)
        # Same passages; a tombstoned chunk still counts in its terms' statistics until tantivy
        # merges its segment (as in Lucene), so scores may differ in the last digits meanwhile.
        assert {d for d, _ in incremental} == {d for d, _ in _search(repository, "whole", query)}
        assert "d5" not in {d for d, _ in incremental}
    assert _search(repository, "inc", "胃痛")[0][0] == "d2"
    assert "d2" not in {d for d, _ in _search(repository, "inc", "感冒")}  # its old text is gone
    assert repository.info("inc").documents == repository.info("whole").documents == 11
    assert repository.info("inc").chunks == 11


def test_a_write_leaves_earlier_batches_untouched(repository: KnowledgeRepository) -> None:
    indexer = Indexer(repository)
    indexer.upsert("s", [doc(f"d{i}", f"文档{i} 高血压") for i in range(50)])
    first_batch = sorted(p.name for p in repository.batch_dir("s", 1).iterdir())
    before = (repository.batch_dir("s", 1) / "chunks.jsonl").stat().st_mtime_ns
    indexer.upsert("s", [doc("new", "新的文档 糖尿病")])
    assert (repository.batch_dir("s", 1) / "chunks.jsonl").stat().st_mtime_ns == before
    assert "chunks.jsonl" in first_batch
    batch = repository.read_batch("s", 2)
    assert [c.doc_id for c in batch.chunks] == ["new"]
    assert _search(repository, "s", "糖尿病")[0][0] == "new"


def test_a_crashed_write_is_indexed_at_the_next_sync(repository: KnowledgeRepository) -> None:
    indexer = Indexer(repository)
    indexer.upsert("s", [doc("a", "感冒")])
    repository.upsert("s", [doc("b", "哮喘 喘息")])  # the batch is written, its index step never ran
    assert _search(repository, "s", "哮喘") == []
    assert indexer.sync("s") is True
    assert _search(repository, "s", "哮喘")[0][0] == "b"
    assert indexer.sync("s") is False


def test_synonyms_from_the_graph_expand_the_question(repository: KnowledgeRepository) -> None:
    Indexer(repository).upsert("s", [doc("fever", "发热三天应就医"), doc("other", "烧伤先用冷水冲")])
    searcher = StoreSearcher(repository, repository.info("s"), "")
    plain = {hit.doc_id: hit.score for _, hit in searcher.search("发烧", [], None, 5)}
    expanded = searcher.search("发烧", ["发热"], None, 5)
    assert expanded[0][1].doc_id == "fever"
    assert expanded[0][1].score > plain["fever"]


def test_rebuild_gives_the_same_results(repository: KnowledgeRepository) -> None:
    indexer = Indexer(repository)
    indexer.upsert("s", [Document(id=i, title="-", text=t) for i, t in CORPUS])
    before = _search(repository, "s", "blood pressure salt")
    indexer.rebuild("s")
    assert _search(repository, "s", "blood pressure salt") == before
