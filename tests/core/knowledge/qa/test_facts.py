"""Graph facts: the sentences the QA pipeline cites, in Chinese and English, never with doses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.core.knowledge.graph.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.graph.entities import EntityExtractor, ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.qa.facts import Fact, answer_facts
from backend.core.knowledge.qa.intents import INTENTS, classify_intents

STARTER = list(starter_diseases())
GRAPH = KnowledgeGraph.build(STARTER)
EXTRACTOR = EntityExtractor.build(GRAPH)
DOSE = re.compile(r"\d+(\.\d+)?\s*(mg|毫克|克|g\b|ml|毫升|片|粒|μg|ug|IU|单位|次/日|次/天)", re.IGNORECASE)
DISEASE_INTENTS = [i for i in INTENTS if i.startswith("disease_")]


def record(disease_id: str, name: str, **fields: Any) -> DiseaseRecord:
    return DiseaseRecord.model_validate({"id": disease_id, "name": name, **fields})


def ask(question: str, language: str = "zh") -> list[Fact]:
    entities = EXTRACTOR.extract(question)
    return answer_facts(GRAPH, entities, classify_intents(question, entities), language)  # type: ignore[arg-type]


def disease(graph: KnowledgeGraph, name: str) -> list[ExtractedEntity]:
    found = graph.disease(name)
    assert found is not None
    return [ExtractedEntity(found.name, "disease", found.name, 0, len(found.name), found.id)]


def test_chinese_symptom_fact_lists_the_record_symptoms() -> None:
    facts = ask("高血压有什么症状？")
    assert facts == [
        Fact(
            "高血压的常见症状：头痛、头晕、颈项僵硬、心悸、乏力、视物模糊。",
            "disease_symptom",
            "高血压",
            "disease-hypertension",
            None,
        )
    ]


def test_english_fact_uses_english_names_and_symptoms() -> None:
    (fact,) = ask("What are the symptoms of hypertension?", "en")
    assert fact.text == "高血压的常见症状：头痛、头晕、颈项僵硬、心悸、乏力、视物模糊。"
    assert fact.text_en == (
        "Common symptoms of Hypertension: headache, dizziness, neck stiffness, palpitations, fatigue, "
        "blurred vision."
    )
    (description,) = ask("What is gout?", "en")
    gout = GRAPH.disease("痛风")
    assert gout is not None
    assert description.text_en == f"Gout: {gout.description_en.rstrip('.')}."
    (department,) = ask("Which department treats gout?", "en")
    assert department.text_en == "Department for Gout: Rheumatology and Immunology."


def test_english_falls_back_to_chinese_where_the_data_has_no_english() -> None:
    graph = KnowledgeGraph.build(
        [record("x", "无英文病", symptoms=["发热"], course="一周左右")], department_names_en={}
    )
    entities = disease(graph, "无英文病")
    facts = answer_facts(graph, entities, ["disease_symptom", "disease_course"], "en")
    assert [f.text_en for f in facts] == [
        "Common symptoms of 无英文病: 发热.",
        "Course of 无英文病: 一周左右.",
    ]


@pytest.mark.parametrize("intent", DISEASE_INTENTS)
def test_each_disease_intent_gives_its_fact(intent: str) -> None:
    entities = disease(GRAPH, "高血压")
    (fact,) = answer_facts(GRAPH, entities, [intent], "en")
    assert (fact.intent, fact.disease, fact.disease_id) == (intent, "高血压", "disease-hypertension")
    assert fact.text.startswith("高血压")
    assert fact.text_en is not None
    assert "Hypertension" in fact.text_en


def test_empty_fields_give_no_fact() -> None:
    graph = KnowledgeGraph.build([record("x", "空病", symptoms=["发热"])], department_names_en={})
    facts = answer_facts(graph, disease(graph, "空病"), list(INTENTS))
    assert [f.intent for f in facts] == ["disease_symptom"]


def test_symptom_facts_name_the_best_matching_diseases() -> None:
    facts = ask("头痛、恶心、畏光是什么病")
    assert facts[0].intent == "symptom_disease"
    assert facts[0].disease == "偏头痛"
    assert facts[0].text.startswith("头痛、恶心、畏光可见于偏头痛，其常见症状：")
    assert 1 < len(facts) <= 5
    assert all(f.intent == "symptom_disease" for f in facts)


def test_english_symptoms_find_every_chinese_symptom_they_name() -> None:
    facts = ask("I keep sweating, what could it be?", "en")
    named = {f.disease for f in facts}
    # "sweating" is 出汗 in some records and 多汗 in others.
    assert any("出汗" in (GRAPH.disease(n) or STARTER[0]).symptoms for n in named)
    assert any("多汗" in (GRAPH.disease(n) or STARTER[0]).symptoms for n in named)
    assert all(f.text_en and "sweating" in f.text_en for f in facts)


def test_plural_english_symptoms_still_find_diseases() -> None:
    facts = ask("I get headaches and photophobia, what could it be?", "en")
    assert facts
    assert facts[0].disease == "偏头痛"
    assert facts[0].text_en is not None
    assert facts[0].text_en.startswith("headache, photophobia can occur in Migraine;")


def test_drug_and_check_facts_per_disease_and_limited() -> None:
    facts = ask("阿司匹林能治什么病？")
    expected = [r.name for r in GRAPH.diseases_for_drug("阿司匹林")][:5]
    assert [f.disease for f in facts] == expected
    assert facts[0].text == f"阿司匹林是{expected[0]}的常用药物之一。"
    entities = EXTRACTOR.extract("心电图能查出什么病")
    checks = answer_facts(GRAPH, entities, ["check_disease"], max_diseases=3)
    assert [f.disease for f in checks] == [r.name for r in GRAPH.diseases_for_check("心电图")][:3]
    assert checks[0].text == f"心电图是{checks[0].disease}的常用检查之一。"


def test_facts_follow_disease_then_intent_order_without_duplicates() -> None:
    question = "高血压和冠心病有什么症状和并发症？高血压高血压"
    facts = ask(question)
    assert [(f.disease, f.intent) for f in facts] == [
        ("高血压", "disease_symptom"),
        ("高血压", "disease_complication"),
        ("冠心病", "disease_symptom"),
        ("冠心病", "disease_complication"),
    ]


def test_no_dose_is_ever_output() -> None:
    graph = KnowledgeGraph.build(
        [
            record(
                "x",
                "剂量病",
                drugs=["阿司匹林 100mg", "布洛芬"],
                treatment=["每日口服二甲双胍 500 毫克", "规律运动"],
                description="一种测试用疾病。可每次服用2片。常见于成人。",
            )
        ],
        department_names_en={},
    )
    facts = answer_facts(graph, disease(graph, "剂量病"), list(INTENTS), "en")
    texts = [f.text for f in facts] + [f.text_en or "" for f in facts]
    assert not any(DOSE.search(t) for t in texts), texts
    by_intent = {f.intent: f.text for f in facts}
    assert by_intent["disease_drug"] == "剂量病的常用药物：布洛芬（须遵医嘱使用）。"
    assert by_intent["disease_treatment"] == "剂量病的治疗方法：规律运动。"
    assert by_intent["disease_description"] == "剂量病：一种测试用疾病。常见于成人。"


def test_no_starter_fact_carries_a_dose() -> None:
    for found in STARTER:
        entities = [ExtractedEntity(found.name, "disease", found.name, 0, len(found.name), found.id)]
        for fact in answer_facts(GRAPH, entities, list(INTENTS), "en"):
            assert not DOSE.search(fact.text), fact.text
            assert fact.text_en is not None
            assert not DOSE.search(fact.text_en), fact.text_en
