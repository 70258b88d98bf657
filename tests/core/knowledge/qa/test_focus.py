"""Answers that answer: the asked field, the sentences that match, 'no evidence' on unaddressed points."""

from __future__ import annotations

import asyncio

import pytest

from backend.core.knowledge.graph.diseases import starter_diseases
from backend.core.knowledge.qa.focus import conditions, snippet, unaddressed
from backend.core.knowledge.qa.pipeline import Answer, QAPipeline
from backend.core.knowledge.service import KnowledgeService
from backend.core.knowledge.store.documents import chunk_document
from tests.core.knowledge.conftest import doc, make_settings


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory) -> QAPipeline:
    knowledge = KnowledgeService(make_settings(tmp_path_factory.mktemp("kb")), "test")
    asyncio.run(knowledge.start())
    return QAPipeline(knowledge, None, top_k=5, min_score={"zh": 0.11, "en": 0.2}, service="test")


def _answer(qa: QAPipeline, question: str, stores: list[str] | None = None) -> Answer:
    return asyncio.run(qa.answer(question, stores))


def test_a_disease_record_is_cut_into_one_passage_per_field() -> None:
    record = next(r for r in starter_diseases() if r.id == "disease-hypertension")
    chunks = chunk_document(record.to_document())
    sections = [c.metadata["section"] for c in chunks]
    assert sections[:3] == ["概述", "症状", "病因"]
    assert len(sections) == len(set(sections))
    symptoms = chunks[sections.index("症状")]
    assert symptoms.text.startswith("症状：")
    assert "病因" not in symptoms.text
    assert all(set(c.metadata) == {"kind", "section"} for c in chunks)  # the record is stored once


def test_a_search_hits_the_field_that_answers(qa: QAPipeline) -> None:
    hits = asyncio.run(qa.knowledge.search("高血压的并发症", None, 3))
    # The named disease's own field first, before records whose complications merely list 高血压.
    assert (hits[0].doc_id, hits[0].metadata["section"]) == ("disease-hypertension", "并发症")
    assert sum(hit.metadata["section"] == "并发症" for hit in hits) >= 2


def test_a_snippet_is_the_sentences_that_match_not_the_first_characters() -> None:
    text = (
        "问题分析：你好，这种情况多与饮食有关。平时注意多喝水，不吃辛辣刺激性食物。"
        "意见建议：嘴唇长水泡多为疱疹，不是艾滋病的特异性症状。祝早日康复。"
    )
    found = snippet(text, "嘴唇长水泡是艾滋病吗", limit=60)
    assert found.startswith("意见建议：嘴唇长水泡多为疱疹")
    assert "多喝水" not in found


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("怀孕期间可以吃布洛芬吗", "孕期"),
        ("小孩得了带状疱疹怎么办", "儿童"),
        # Passages on children's fevers are found, but none says anything about aspirin in children.
        ("儿童发烧可以用阿司匹林吗", "儿童"),
        ("布洛芬一次吃几片", "剂量"),
        ("Is asthma treatment safe while breastfeeding?", "breast-feeding"),
    ],
)
def test_an_unaddressed_condition_is_said_first(qa: QAPipeline, question: str, label: str) -> None:
    answer = _answer(qa, question)
    first = answer.answer.splitlines()[0]
    assert label in first
    assert first.startswith(("知识库中没有关于", "The knowledge base holds no evidence"))
    assert answer.mode != "not_found"  # what there is still follows, with its sources
    assert "[1]" in answer.answer


def test_evidence_on_the_condition_is_shown_instead_of_the_note(qa: QAPipeline) -> None:
    qa.knowledge.indexer.upsert(
        "drugs", [doc("ibu-preg", "孕妇应避免使用布洛芬，尤其是孕晚期（妊娠30周后）。", title="布洛芬与妊娠")]
    )
    asyncio.run(qa.knowledge.refresh())
    answer = _answer(qa, "怀孕期间可以吃布洛芬吗")
    assert "知识库中没有" not in answer.answer
    assert any(source.doc_id == "ibu-preg" for source in answer.grounding.passages)


def test_a_plain_question_gets_no_note(qa: QAPipeline) -> None:
    answer = _answer(qa, "What are the symptoms of asthma?")
    assert "no evidence" not in answer.answer
    assert answer.grounding.passages == [] or all(
        "Asthma" in p.title or "哮喘" in p.title for p in answer.grounding.passages
    )


def test_conditions_file_is_valid_and_matches_words_not_fragments() -> None:
    assert {c.name for c in conditions()} >= {"pregnancy", "child", "dose", "breastfeeding", "interaction"}
    assert not unaddressed("What are the symptoms of asthma?", [])
    assert [c.name for c in unaddressed("Is it safe for a pregnant woman?", [])] == ["pregnancy"]
    assert not unaddressed("怀孕能吃吗", ["孕妇慎用"])
    assert [c.name for c in unaddressed("怀孕能吃吗", ["短效口服避孕药"])] == ["pregnancy"]


def test_a_condition_on_a_drug_needs_evidence_naming_that_drug() -> None:
    fever = "小儿发热多见于上呼吸道感染。"
    assert [c.name for c in unaddressed("儿童发烧可以用阿司匹林吗", [fever], ["阿司匹林"])] == ["child"]
    assert not unaddressed(
        "儿童发烧可以用阿司匹林吗", [fever, "16岁以下儿童避免使用阿司匹林。"], ["阿司匹林"]
    )
    assert not unaddressed("儿童发烧怎么办", [fever])  # no drug asked about: the passage speaks to it


def test_a_drug_field_passage_keeps_its_heading_and_never_reaches_a_patient(qa: QAPipeline) -> None:
    question = "阿司匹林能治什么病"
    doctor = asyncio.run(qa.ground(question, None, None, "doctor"))
    drug_fields = [s for s in doctor.passages if s.snippet.startswith("常用药物：")]
    assert drug_fields, "the doctor sees the drug fields that name aspirin"
    assert all("阿司匹林" in s.snippet for s in drug_fields)
    assert all(not s.snippet.startswith("阿司匹林") for s in doctor.passages)  # never a bare name
    patient = asyncio.run(qa.ground(question, None, None, "patient"))
    assert not patient.facts
    assert patient.passages, "what the treatment fields say, under a doctor's guidance"
    assert all(not s.snippet.startswith("常用药物") for s in patient.passages)
