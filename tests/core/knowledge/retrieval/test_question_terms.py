"""Query-term weights: a question's template words count less than its subject."""

from __future__ import annotations

import pytest

from backend.core.knowledge.retrieval import lexical
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.question_terms import question_term_weights
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.store.repository import KnowledgeRepository
from tests.core.knowledge.conftest import doc


def test_template_words_weigh_little_and_subjects_are_not_listed() -> None:
    weights = question_term_weights()
    for template in ("么办", "怎么", "请问", "想问", "呢", "吗"):
        assert weights[template] < 0.2, template
    for subject in ("高血压", "糖尿病", "怀孕", "咳嗽", "头痛", "乙肝", "血压"):
        assert subject not in weights, subject
    assert all(0 < w <= 1 and ord(t[0]) >= 0x3400 for t, w in weights.items())


def _searcher(repository: KnowledgeRepository) -> StoreSearcher:
    Indexer(repository).upsert(
        "s",
        [
            doc("subject", "高血压要低盐饮食，按时服用降压药，定期测量。"),
            doc("template", "不知道怎么办的时候，请问一下家人，别着急，多休息，还要注意饮食。"),
            doc("other", "感冒多喝水，注意休息。"),
        ],
    )
    return StoreSearcher(repository, repository.info("s"), "")


def test_the_subject_outranks_an_answer_that_repeats_the_template(repository: KnowledgeRepository) -> None:
    searcher = _searcher(repository)
    found = searcher.search("请问高血压怎么办呢", [], None, 3)
    assert found[0][1].doc_id == "subject"


def test_without_the_weights_the_template_wins(
    repository: KnowledgeRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above is about the weights: with every term at 1, the template answer is first."""
    monkeypatch.setattr(lexical, "question_term_weights", dict)
    searcher = _searcher(repository)
    assert searcher.search("请问高血压怎么办呢", [], None, 3)[0][1].doc_id == "template"


def test_a_repeated_term_counts_its_square_root(repository: KnowledgeRepository) -> None:
    searcher = _searcher(repository)
    weights = searcher.lexical.query_terms("咳嗽咳嗽咳嗽咳嗽")
    assert weights["咳嗽"] == pytest.approx(2.0)
    assert weights["咳"] == pytest.approx(2.0)
    assert searcher.lexical.query_terms("请问")["请问"] == pytest.approx(question_term_weights()["请问"])
