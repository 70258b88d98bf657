"""Entity extraction: longest match, overlaps, English word boundaries and case, noise, and scale."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from backend.core.knowledge.graph.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.graph.entities import DegreeWords, EntityExtractor, ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph


def record(disease_id: str, name: str, **fields: Any) -> DiseaseRecord:
    return DiseaseRecord.model_validate({"id": disease_id, "name": name, **fields})


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    graph = KnowledgeGraph.build(
        [
            record("dm", "糖尿病", name_en="Diabetes"),
            record("dn", "糖尿病肾病", name_en="Diabetic nephropathy"),
            record("kd", "肾病"),
            record("cold", "普通感冒", name_en="Common cold", aliases=["感冒", "Cold"]),
            record("hiv", "艾滋病", aliases=["HIV", "AIDS", "HIV感染", "Ox"]),
            record("copd", "慢性阻塞性肺疾病", aliases=["COPD", "慢阻肺"]),
            record("af", "心房颤动", aliases=["AF", "房颤"]),
            record("acne", "痤疮", name_en="Acne"),
            record("pcos", "多囊卵巢综合征", symptoms=["痤疮", "闭经"], symptoms_en=["acne", "amenorrhea"]),
            record("node", "肺结节"),
            record("sarc", "结节病"),
            record("gout", "痛风性关节炎", symptoms=["关节痛"]),
            record("mi", "心肌梗死", symptoms=["胸痛", "头痛"], symptoms_en=["chest pain", "headache"]),
            record("piles", "痔疮", aliases=["痔"], drugs=["马应龙痔疮膏"]),
        ],
        department_names_en={},
    )
    return EntityExtractor.build(graph)


def spans(found: list[ExtractedEntity]) -> list[tuple[str, str, str]]:
    return [(e.name, e.type, e.surface) for e in found]


# ------------------------------------------------------------------------------- longest match, overlaps


def test_longest_match_wins_over_names_inside_it(extractor: EntityExtractor) -> None:
    assert spans(extractor.extract("糖尿病肾病怎么治")) == [("糖尿病肾病", "disease", "糖尿病肾病")]
    assert spans(extractor.extract("糖尿病和肾病")) == [
        ("糖尿病", "disease", "糖尿病"),
        ("肾病", "disease", "肾病"),
    ]
    assert spans(extractor.extract("马应龙痔疮膏")) == [("马应龙痔疮膏", "drug", "马应龙痔疮膏")]


def test_overlapping_matches_prefer_the_longer_even_when_later(extractor: EntityExtractor) -> None:
    # 胸痛 (0-2) overlaps 痛风性关节炎 (1-7): the longer one is kept.
    assert spans(extractor.extract("胸痛风性关节炎")) == [("痛风性关节炎", "disease", "痛风性关节炎")]


def test_overlapping_matches_of_equal_length_prefer_the_earlier(extractor: EntityExtractor) -> None:
    found = extractor.extract("肺结节病")
    assert spans(found) == [("肺结节", "disease", "肺结节")]
    assert (found[0].start, found[0].end) == (0, 3)


def test_a_surface_that_is_both_disease_and_symptom_is_the_disease(extractor: EntityExtractor) -> None:
    assert spans(extractor.extract("痤疮怎么办")) == [("痤疮", "disease", "痤疮")]
    assert spans(extractor.extract("what is acne")) == [("痤疮", "disease", "acne")]


def test_offsets_positions_and_order(extractor: EntityExtractor) -> None:
    text = "I have AF and chest pain; 房颤、糖尿病肾病和COPD"
    found = extractor.extract(text)
    assert [e.name for e in found] == ["心房颤动", "胸痛", "心房颤动", "糖尿病肾病", "慢性阻塞性肺疾病"]
    assert [e.start for e in found] == sorted(e.start for e in found)
    for entity in found:
        assert text[entity.start : entity.end] == entity.surface
    assert found[0].id == "af"
    assert found[1].id == ""  # not a disease


# -------------------------------------------------------------------------------- English and noise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scolding a child", []),
        ("a cold", [("普通感冒", "disease", "cold")]),
        ("COLD, again.", [("普通感冒", "disease", "COLD")]),
        ("colder weather", []),
        ("the common cold", [("普通感冒", "disease", "common cold")]),
        ("Colds in winter", [("普通感冒", "disease", "Colds")]),
        ("bad headaches", [("头痛", "symptom", "headaches")]),
        ("headachey", []),
        ("DIABETES or diabetes", [("糖尿病", "disease", "DIABETES"), ("糖尿病", "disease", "diabetes")]),
        ("prediabetes", []),
    ],
)
def test_english_matches_whole_words_in_any_case(
    extractor: EntityExtractor, text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert spans(extractor.extract(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HIV positive", [("艾滋病", "disease", "HIV")]),
        ("hiv positive", []),
        ("he has AIDS", [("艾滋病", "disease", "AIDS")]),
        ("hearing aids", []),
        ("COPD and AF", [("慢性阻塞性肺疾病", "disease", "COPD"), ("心房颤动", "disease", "AF")]),
        ("af copd", []),
        ("HIVs", []),
        ("我有COPD吗", [("慢性阻塞性肺疾病", "disease", "COPD")]),
        ("ＣＯＰＤ怎么办", [("慢性阻塞性肺疾病", "disease", "ＣＯＰＤ")]),
        ("HIV感染者", [("艾滋病", "disease", "HIV感染")]),
    ],
)
def test_acronyms_match_only_as_written(
    extractor: EntityExtractor, text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert spans(extractor.extract(text)) == expected


def test_single_chinese_characters_and_short_english_words_are_skipped(extractor: EntityExtractor) -> None:
    assert extractor.extract("我有痔") == []  # 痔 alone is part of too many words
    assert spans(extractor.extract("我有痔疮")) == [("痔疮", "disease", "痔疮")]
    assert extractor.extract("an ox and an Ox") == []  # two letters, not an acronym


def test_empty_text_and_empty_graph() -> None:
    empty = EntityExtractor.build(KnowledgeGraph.build([]))
    assert empty.extract("高血压") == []
    assert empty.extract("") == []


# ------------------------------------------------------------------------------------ starter records


@pytest.fixture(scope="module")
def starter() -> EntityExtractor:
    return EntityExtractor.build(KnowledgeGraph.build(starter_diseases()))


def test_starter_questions(starter: EntityExtractor) -> None:
    assert spans(starter.extract("冠状动脉粥样硬化性心脏病和冠心病")) == [
        ("冠心病", "disease", "冠状动脉粥样硬化性心脏病"),
        ("冠心病", "disease", "冠心病"),
    ]
    assert spans(starter.extract("最近头痛、头晕，是高血压吗")) == [
        ("头痛", "symptom", "头痛"),
        ("头晕", "symptom", "头晕"),
        ("高血压", "disease", "高血压"),
    ]
    assert spans(starter.extract("High blood pressure with headaches")) == [
        ("高血压", "disease", "High blood pressure"),
        ("头痛", "symptom", "headaches"),
    ]
    assert spans(starter.extract("肥胖")) == [("肥胖症", "disease", "肥胖")]
    assert spans(starter.extract("偏瘫")) == [("偏瘫", "symptom", "偏瘫")]  # also a complication


# ----------------------------------------------------------------------------------------------- scale

_CJK = (
    "心肝脾肺肾胃肠脑血骨皮眼耳鼻喉口牙舌咽颈胸腹腰背膝足手关节肌神经淋巴"
    "甲状腺乳房卵巢子宫前列膀胱胆胰脊髓动静脉毛细管道囊腔膜层体"
)
_SYLLABLES = (
    "ka",
    "lo",
    "ri",
    "men",
    "tha",
    "zu",
    "vor",
    "pel",
    "nix",
    "dra",
    "qua",
    "sen",
    "tor",
    "bel",
    "mi",
)


def _vocabulary(rng: random.Random, size: int, suffixes: tuple[str, ...], low: int, high: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        stem = "".join(rng.choice(_CJK) for _ in range(rng.randint(low, high)))
        words.add(stem + rng.choice(suffixes))
    return sorted(words)


def _english(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def synthetic_records(count: int, seed: int = 7) -> list[DiseaseRecord]:
    """An imported-table-sized knowledge base: ~100k entity names with much shared vocabulary."""
    rng = random.Random(seed)
    names = _vocabulary(rng, count, ("病", "症", "炎", "综合征", "瘤", "癌", "损伤", "不全"), 2, 4)
    symptoms = _vocabulary(rng, 4000, ("痛", "痒", "肿", "麻", "胀"), 2, 4)
    symptoms_en = [f"{_english(rng)} {rng.choice(('pain', 'itch', 'swelling'))}" for _ in symptoms]
    drugs = _vocabulary(rng, 12000, ("片", "胶囊", "注射液", "颗粒"), 2, 4)
    checks = _vocabulary(rng, 3000, ("检查", "彩超", "CT", "造影"), 2, 3)
    foods = _vocabulary(rng, 2000, ("汤", "粥", "菜"), 2, 3)
    complications = _vocabulary(rng, 3000, ("并发症",), 2, 4)
    records = []
    for i, name in enumerate(names):
        picked = rng.sample(range(len(symptoms)), 6)
        records.append(
            DiseaseRecord.model_construct(
                id=f"syn-{i}",
                name=name,
                name_en=f"{_english(rng)} {_english(rng)}-{i} disease",
                aliases=[name + "病变", f"{_english(rng)}osis {i}"],
                department=rng.choice(("内科", "外科", "儿科", "妇科", "皮肤科")),
                symptoms=[symptoms[j] for j in picked],
                symptoms_en=[symptoms_en[j] for j in picked],
                drugs=rng.sample(drugs, 5),
                checks=rng.sample(checks, 4),
                foods_recommended=rng.sample(foods, 3),
                foods_avoid=rng.sample(foods, 3),
                complications=[*rng.sample(complications, 2), rng.choice(names)],
            )
        )
    return records


def test_scale_15k_diseases_build_in_seconds_and_extract_in_well_under_a_millisecond() -> None:
    records = synthetic_records(15_000)
    started = time.perf_counter()
    graph = KnowledgeGraph.build(records)
    extractor = EntityExtractor.build(graph)
    build_seconds = time.perf_counter() - started
    assert graph.stats()["disease"] == 15_000
    assert extractor.name_count > 80_000
    # Seconds on a slow shared machine; a quadratic step would take minutes.
    assert build_seconds < 30, build_seconds

    rng = random.Random(11)
    questions = []
    for sample in rng.sample(records, 200):
        question = (
            f"我最近{sample.symptoms[0]}、{sample.symptoms[1]}，是不是{sample.name}？"
            f"{sample.name_en} needs which tests? {sample.symptoms_en[2]}，吃{sample.drugs[0]}可以吗"
        )
        found = extractor.extract(question)
        assert [e.name for e in found] == [
            sample.symptoms[0],
            sample.symptoms[1],
            sample.name,
            sample.name,
            # an English symptom form may be shared; it resolves to the commonest Chinese symptom
            found[4].name,
            sample.drugs[0],
        ], question
        assert found[4].type == "symptom"
        questions.append(question)

    rounds = 5
    started = time.perf_counter()
    for _ in range(rounds):
        for question in questions:
            extractor.extract(question)
    average = (time.perf_counter() - started) / (rounds * len(questions))
    # Well under a millisecond is the target; an O(names) scan per question takes milliseconds.
    assert average < 0.001, f"{average * 1000:.3f} ms per question"

    started = time.perf_counter()
    for sample in records[:200]:
        assert graph.diseases_with_symptoms(sample.symptoms[:3], limit=5)
        assert graph.diseases_for_drug(sample.drugs[0])
    average = (time.perf_counter() - started) / 200
    assert average < 0.005, f"{average * 1000:.3f} ms per lookup"


# ------------------------------------------------------------------------------- degree words in between


@pytest.mark.parametrize("text", ["头有点痛", "头一直痛", "我头好痛啊", "头也有点痛"])
def test_a_degree_word_between_site_and_feeling_still_names_the_symptom(
    extractor: EntityExtractor, text: str
) -> None:
    found = extractor.extract(text)
    assert [e.name for e in found] == ["头痛"]
    assert found[0].surface == text[found[0].start : found[0].end]  # spans the words as written
    assert found[0].surface.startswith("头")
    assert found[0].surface.endswith("痛")


def test_a_negation_in_between_is_never_bridged(extractor: EntityExtractor) -> None:
    assert extractor.extract("头不痛") == []
    assert extractor.extract("头没有痛") == []


def test_a_degree_word_list_with_a_negation_is_refused() -> None:
    with pytest.raises(ValueError, match="negation"):
        DegreeWords.model_validate({"words": ["有点", "不太"]})
