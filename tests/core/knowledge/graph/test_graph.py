"""The knowledge graph: entities, relations, reverse lookups, symptom ranking and the disease card."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.core.knowledge.graph.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.graph.entities import EntityExtractor
from backend.core.knowledge.graph.graph import ENTITY_TYPES, RELATIONS, KnowledgeGraph

STARTER = list(starter_diseases())


def record(disease_id: str, name: str, **fields: Any) -> DiseaseRecord:
    return DiseaseRecord.model_validate({"id": disease_id, "name": name, **fields})


@pytest.fixture(scope="module")
def starter() -> KnowledgeGraph:
    return KnowledgeGraph.build(STARTER)


# ------------------------------------------------------------------------------------------ entities


def test_stats_count_every_distinct_entity_and_edge_of_the_starter_records(starter: KnowledgeGraph) -> None:
    stats = starter.stats()
    distinct = {
        "disease": {r.id for r in STARTER},
        "symptom": {s for r in STARTER for s in r.symptoms},
        "drug": {d for r in STARTER for d in r.drugs},
        "check": {c for r in STARTER for c in r.checks},
        "department": {r.department for r in STARTER},
        "food": {f for r in STARTER for f in r.foods_recommended + r.foods_avoid},
        "complication": {c for r in STARTER for c in r.complications},
    }
    for entity_type in ENTITY_TYPES:
        assert stats[entity_type] == len(distinct[entity_type]), entity_type
    assert stats["entities"] == sum(len(v) for v in distinct.values())
    assert stats["has_symptom"] == sum(len(r.symptoms) for r in STARTER)
    assert stats["common_drug"] == sum(len(r.drugs) for r in STARTER)
    assert stats["belongs_to"] == len(STARTER)
    assert stats["relations"] == sum(stats[r] for r in RELATIONS) + stats["complication_is_disease"]
    assert stats["complication_is_disease"] > 0


def test_entities_are_typed_and_diseases_carry_id_english_name_and_aliases(starter: KnowledgeGraph) -> None:
    entity = starter.entity("disease", "房颤")
    assert entity is not None
    assert (entity.name, entity.type, entity.id, entity.name_en) == (
        "心房颤动",
        "disease",
        "disease-atrial-fibrillation",
        "Atrial Fibrillation",
    )
    assert {"房颤", "AF", "AFib"} <= set(entity.aliases)
    drug = starter.entity("drug", "阿司匹林")
    assert drug is not None
    assert drug.type == "drug"
    assert drug.id == ""
    assert starter.entity("drug", "高血压") is None
    assert {e.type for e in starter.entities("check")} == {"check"}


def test_english_symptom_names_are_aliases_of_the_chinese_symptom(starter: KnowledgeGraph) -> None:
    headache = starter.entity("symptom", "头痛")
    assert headache is not None
    assert headache.name_en == "headache"
    assert "headache" in headache.aliases
    assert starter.resolve_symptom("HEADACHE") == ("头痛",)
    # An English name shared by several Chinese symptoms stands for all of them.
    assert set(starter.resolve_symptom("sweating")) == {"出汗", "多汗"}
    assert starter.resolve_symptom("no such symptom") == ()


def test_a_misaligned_english_symptom_list_is_not_used() -> None:
    graph = KnowledgeGraph.build(
        [record("a", "甲病", symptoms=["发热", "咳嗽"], symptoms_en=["cough"])], department_names_en={}
    )
    fever = graph.entity("symptom", "发热")
    assert fever is not None
    assert fever.name_en == ""
    assert "cough" not in fever.aliases
    assert graph.resolve_symptom("cough") == ()


def test_symptoms_answer_to_the_everyday_words_patients_use() -> None:
    graph = KnowledgeGraph.build([record("a", "甲病", symptoms=["腹泻", "发热"])], department_names_en={})
    extractor = EntityExtractor.build(graph)
    found = [(e.name, e.surface) for e in extractor.extract("孩子拉肚子，还发烧，嗓子疼")]
    assert found == [("腹泻", "拉肚子"), ("发热", "发烧")]  # 咽痛 is not in this graph: no entity for 嗓子疼


# ------------------------------------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    "query",
    [
        "高血压",
        "高血压病",
        "Hypertension",
        "HYPERTENSION",
        "high blood pressure",
        " 高血压 ",
        "ＨＹＰＥＲＴＥＮＳＩＯＮ",
    ],
)
def test_disease_by_name_alias_or_english_name_in_any_case(starter: KnowledgeGraph, query: str) -> None:
    found = starter.disease(query)
    assert found is not None
    assert found.id == "disease-hypertension"


def test_unknown_disease_is_none(starter: KnowledgeGraph) -> None:
    assert starter.disease("不存在的病") is None
    assert starter.disease("") is None
    assert starter.card("不存在的病") is None


@pytest.mark.parametrize("order", [1, -1])
def test_a_disease_name_is_never_taken_by_another_disease_alias(order: int) -> None:
    records = [record("a", "肺炎"), record("b", "社区获得性肺炎", aliases=["肺炎", "社区肺炎"])][::order]
    graph = KnowledgeGraph.build(records, department_names_en={})
    assert graph.disease("肺炎") == records[::order][0]
    assert graph.disease("社区肺炎") == records[::order][1]


def test_items_are_stripped_deduplicated_and_departments_split() -> None:
    graph = KnowledgeGraph.build(
        [
            record(
                "a", "甲病", drugs=[" 药甲 ", "药甲", "", "Aspirin", "aspirin"], department="内科 消化内科"
            ),
            record("a", "重复的甲病", drugs=["药乙"]),  # the same id again: ignored
        ],
        department_names_en={"消化内科": "Gastroenterology"},
    )
    assert graph.related("a", "common_drug") == ("药甲", "Aspirin")
    assert graph.related("a", "belongs_to") == ("内科", "消化内科")
    assert graph.name_en("department", "消化内科") == "Gastroenterology"
    assert [r.id for r in graph.diseases_for_drug("ASPIRIN")] == ["a"]
    assert graph.diseases_for_drug("药乙") == []
    assert len(graph) == 1


def test_starter_departments_get_their_english_names(starter: KnowledgeGraph) -> None:
    ent = starter.entity("department", "耳鼻咽喉科")
    assert ent is not None
    assert ent.name_en == "Otorhinolaryngology (ENT)"
    assert set(ent.aliases) == {"Otorhinolaryngology", "ENT"}


@pytest.mark.parametrize(
    ("lookup", "field"), [("diseases_for_drug", "drugs"), ("diseases_for_check", "checks")]
)
def test_reverse_lookups_match_a_scan_of_the_records(
    starter: KnowledgeGraph, lookup: str, field: str
) -> None:
    targets = {t for r in STARTER for t in getattr(r, field)}
    for target in targets:
        expected = [r.id for r in STARTER if target in getattr(r, field)]
        assert [r.id for r in getattr(starter, lookup)(target)] == expected, target
    assert getattr(starter, lookup)("没有这个") == []


def test_diseases_for_drug_and_check_on_known_examples(starter: KnowledgeGraph) -> None:
    assert {"冠心病", "急性心肌梗死"} <= {r.name for r in starter.diseases_for_drug("阿司匹林")}
    assert {"高血压", "冠心病", "心房颤动"} <= {r.name for r in starter.diseases_for_check("心电图")}


# ------------------------------------------------------------------------------------ symptom ranking


@pytest.fixture(scope="module")
def triage() -> KnowledgeGraph:
    common = ["乏力"]
    return KnowledgeGraph.build(
        [
            record(
                "flu", "流感", symptoms=["发热", "咳嗽", *common], symptoms_en=["fever", "cough", "fatigue"]
            ),
            record(
                "cold",
                "感冒",
                symptoms=["咳嗽", "流涕", *common],
                symptoms_en=["cough", "runny nose", "fatigue"],
            ),
            record("mono", "单核细胞增多症", symptoms=["发热", "淋巴结肿大", *common]),
            record("anemia", "贫血", symptoms=[*common, "面色苍白"]),
            record("other", "无关病", symptoms=["皮疹"]),
        ],
        department_names_en={},
    )


def test_rare_shared_symptoms_outrank_common_ones(triage: KnowledgeGraph) -> None:
    assert triage.symptom_idf("淋巴结肿大") > triage.symptom_idf("发热") > triage.symptom_idf("乏力")
    ranked = triage.diseases_with_symptoms(["淋巴结肿大", "乏力"])
    assert ranked[0][0].id == "mono"
    assert {r.id for r, _ in ranked[1:]} == {"flu", "cold", "anemia"}  # matched by 乏力 alone
    assert ranked[0][1] > 2 * max(score for _, score in ranked[1:])
    # Two diseases matching the same two symptoms: the one whose other symptoms are commoner is closer.
    ranked = triage.diseases_with_symptoms(["发热", "乏力"])
    assert [r.id for r, _ in ranked[:2]] == ["flu", "mono"]


def test_scores_are_cosines_and_ties_are_stable(triage: KnowledgeGraph) -> None:
    ranked = triage.diseases_with_symptoms(["发热", "咳嗽", "乏力"])
    assert ranked[0][0].id == "flu"
    assert ranked[0][1] > 0.95  # all its symptoms asked: near 1 (rank weights keep it from exactly 1)
    assert all(0.0 < score <= 1.0 + 1e-9 for _, score in ranked)
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)
    assert "other" not in {r.id for r, _ in ranked}
    assert triage.diseases_with_symptoms(["发热", "咳嗽", "乏力"]) == ranked


def test_symptom_ranking_accepts_english_ignores_unknown_and_limits(triage: KnowledgeGraph) -> None:
    assert [r.id for r, _ in triage.diseases_with_symptoms(["Runny Nose"])] == ["cold"]
    assert triage.diseases_with_symptoms(["没有这个症状"]) == []
    assert triage.diseases_with_symptoms([]) == []
    with_unknown = triage.diseases_with_symptoms(["流涕", "没有这个症状"])
    assert with_unknown == triage.diseases_with_symptoms(["流涕"])
    assert len(triage.diseases_with_symptoms(["乏力"], limit=2)) == 2


def test_a_disease_whose_cardinal_symptoms_match_outranks_one_listing_them_last() -> None:
    graph = KnowledgeGraph.build(
        [
            record("flu", "流行性感冒", symptoms=["发热", "头痛", "咳嗽", "乏力"]),
            record("pox", "水痘", symptoms=["皮疹", "水疱", "发热", "头痛"]),
        ],
        department_names_en={},
    )
    ranked = graph.diseases_with_symptoms(["发热", "头痛"])
    assert [r.id for r, _ in ranked] == ["flu", "pox"]
    assert ranked[0][1] > ranked[1][1]


def test_symptom_ranking_on_the_starter_records(starter: KnowledgeGraph) -> None:
    ranked = starter.diseases_with_symptoms(["头痛", "恶心", "畏光"], limit=3)
    assert ranked[0][0].name == "偏头痛"


# -------------------------------------------------------------------------------------- complications


def test_complications_that_are_diseases_are_linked_both_ways() -> None:
    graph = KnowledgeGraph.build(
        [
            record("htn", "高血压", complications=["脑梗", "肾损害", "高血压"]),
            record("stroke", "缺血性脑卒中", aliases=["脑梗"]),
        ],
        department_names_en={},
    )
    assert [r.id for r in graph.complication_diseases("htn")] == ["stroke"]
    assert [r.id for r in graph.complication_of("stroke")] == ["htn"]
    assert graph.stats()["complication_is_disease"] == 1
    card = graph.card("高血压")
    assert card is not None
    links = {c["name"]: (c["disease_id"], c["disease"]) for c in card["relations"]["has_complication"]}
    assert links == {"脑梗": ("stroke", "缺血性脑卒中"), "肾损害": (None, None), "高血压": (None, None)}
    stroke = graph.card("脑梗")
    assert stroke is not None
    assert stroke["complication_of"] == [{"id": "htn", "name": "高血压"}]


# -------------------------------------------------------------------------------------------- the card


def test_card_has_every_field_and_relations_grouped_and_is_json(starter: KnowledgeGraph) -> None:
    card = starter.card("af")  # lower case: not the acronym, but the lookup is case-insensitive
    assert card is not None
    json.dumps(card, ensure_ascii=False)
    original = starter.disease("心房颤动")
    assert original is not None
    for field, value in original.model_dump(mode="json").items():
        assert card[field] == value, field
    relations = card["relations"]
    assert set(relations) == set(RELATIONS)
    assert [i["name"] for i in relations["has_symptom"]] == original.symptoms
    assert relations["has_symptom"][0] == {"name": "心悸", "type": "symptom", "name_en": "palpitations"}
    assert [i["name"] for i in relations["common_drug"]] == original.drugs
    assert {i["type"] for i in relations["need_check"]} == {"check"}
    assert relations["belongs_to"] == [{"name": "心血管内科", "type": "department", "name_en": "Cardiology"}]
    assert [i["name"] for i in relations["recommended_food"]] == original.foods_recommended
    assert [i["name"] for i in relations["avoid_food"]] == original.foods_avoid
    stroke = next(i for i in relations["has_complication"] if i["name"] == "缺血性脑卒中")
    assert stroke["disease_id"] == "disease-ischemic-stroke"


def test_empty_graph_answers_nothing() -> None:
    graph = KnowledgeGraph.build([])
    assert len(graph) == 0
    assert graph.disease("高血压") is None
    assert graph.diseases_with_symptoms(["头痛"]) == []
    assert set(graph.stats().values()) == {0}
