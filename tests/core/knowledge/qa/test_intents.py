"""Question intents: the 17 classic medical KG question types, in Chinese and English."""

from __future__ import annotations

import pytest

from backend.core.knowledge.graph.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.graph.entities import EntityExtractor, ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.qa.intents import INTENTS, classify_intents

# The starter records name drugs and checks in Chinese only; this one gives English names to ask with.
_ENGLISH_NAMES = DiseaseRecord(
    id="test-english-names",
    name="测试用疾病",
    drugs=["aspirin", "ibuprofen"],
    checks=["electrocardiogram", "blood test"],
)
EXTRACTOR = EntityExtractor.build(KnowledgeGraph.build([*starter_diseases(), _ENGLISH_NAMES]))


def classify(question: str) -> list[str]:
    return classify_intents(question, EXTRACTOR.extract(question))


# (intent, question, the entity types the question must be found to name)
CHINESE = [
    ("disease_symptom", "高血压有什么症状？", {"disease"}),
    ("disease_symptom", "糖尿病视网膜病变有哪些表现", {"disease"}),
    ("symptom_disease", "经常胸闷、心悸是什么病？", {"symptom"}),
    ("symptom_disease", "头痛是什么原因", {"symptom"}),
    ("disease_cause", "高血压是什么原因引起的？", {"disease"}),
    ("disease_cause", "为什么会得痛风", {"disease"}),
    ("disease_complication", "高血压有哪些并发症？", {"disease"}),
    ("disease_complication", "高血压会引起什么", {"disease"}),
    ("disease_food_recommended", "痛风吃什么好？", {"disease"}),
    ("disease_food_recommended", "高血压的饮食", {"disease"}),
    ("disease_food_avoid", "痛风不能吃什么？", {"disease"}),
    ("disease_food_avoid", "胃食管反流病要忌口吗", {"disease"}),
    ("disease_drug", "高血压吃什么药？", {"disease"}),
    ("disease_drug", "冠心病用药", {"disease"}),
    ("drug_disease", "阿司匹林能治什么病？", {"drug"}),
    ("drug_disease", "布洛芬的作用", {"drug"}),
    ("disease_check", "冠心病要做哪些检查？", {"disease"}),
    ("disease_check", "高血压怎么诊断", {"disease"}),
    ("check_disease", "心电图能查出什么病？", {"check"}),
    ("check_disease", "血常规查什么", {"check"}),
    ("disease_prevention", "怎么预防流感？", {"disease"}),
    ("disease_course", "感冒多久能好？", {"disease"}),
    ("disease_course", "带状疱疹的病程多长时间", {"disease"}),
    ("disease_treatment", "湿疹怎么治疗？", {"disease"}),
    ("disease_treatment", "偏头痛怎么办", {"disease"}),
    ("disease_cure_rate", "乙肝能治好吗？", {"disease"}),
    ("disease_cure_rate", "白血病的治愈率高吗", {"disease"}),
    ("disease_susceptible", "哪些人容易得痛风？", {"disease"}),
    ("disease_susceptible", "什么人易患青光眼", {"disease"}),
    ("disease_description", "什么是系统性红斑狼疮？", {"disease"}),
    ("disease_description", "高血压是什么病", {"disease"}),
    ("disease_department", "腰椎间盘突出挂什么科？", {"disease"}),
    ("disease_department", "白内障去哪个科室看", {"disease"}),
]
ENGLISH = [
    ("disease_symptom", "What are the symptoms of hypertension?", {"disease"}),
    ("disease_symptom", "What are the signs of a heart attack?", {"disease"}),
    ("symptom_disease", "I have chest pain and palpitations, what could it be?", {"symptom"}),
    ("symptom_disease", "Which diseases cause a headache?", {"symptom"}),
    ("disease_cause", "What causes gout?", {"disease"}),
    ("disease_cause", "Why do people get migraine?", {"disease"}),
    ("disease_complication", "What are the complications of hypertension?", {"disease"}),
    ("disease_complication", "What can atrial fibrillation cause?", {"disease"}),
    ("disease_food_recommended", "What foods are good for gout?", {"disease"}),
    ("disease_food_recommended", "What should I eat with gout?", {"disease"}),
    ("disease_food_avoid", "What foods should I avoid with gout?", {"disease"}),
    ("disease_food_avoid", "Which drinks are bad for GERD?", {"disease"}),
    ("disease_drug", "What medications are used for hypertension?", {"disease"}),
    ("disease_drug", "Which drugs help with asthma?", {"disease"}),
    ("drug_disease", "What is aspirin used for?", {"drug"}),
    ("drug_disease", "What does ibuprofen treat?", {"drug"}),
    ("disease_check", "What tests are needed for coronary artery disease?", {"disease"}),
    ("disease_check", "How is lupus diagnosed?", {"disease"}),
    ("check_disease", "What can an electrocardiogram detect?", {"check"}),
    ("check_disease", "What does a blood test show?", {"check"}),
    ("disease_prevention", "How can I prevent the flu?", {"disease"}),
    ("disease_prevention", "How to avoid getting shingles?", {"disease"}),
    ("disease_course", "How long does the flu last?", {"disease"}),
    ("disease_course", "What is the duration of chickenpox?", {"disease"}),
    ("disease_treatment", "How is eczema treated?", {"disease"}),
    ("disease_treatment", "What is the best therapy for psoriasis?", {"disease"}),
    ("disease_cure_rate", "Can hepatitis B be cured?", {"disease"}),
    ("disease_cure_rate", "Is leukemia curable?", {"disease"}),
    ("disease_susceptible", "Who is at risk of gout?", {"disease"}),
    ("disease_susceptible", "Who gets glaucoma?", {"disease"}),
    ("disease_description", "What is lupus?", {"disease"}),
    ("disease_description", "Tell me about asthma", {"disease"}),
    ("disease_department", "Which department should I visit for a lumbar disc herniation?", {"disease"}),
    ("disease_department", "What kind of doctor treats cataract?", {"disease"}),
]


def test_every_intent_is_covered_in_both_languages() -> None:
    assert {intent for intent, _, _ in CHINESE} == set(INTENTS)
    assert {intent for intent, _, _ in ENGLISH} == set(INTENTS)
    assert len(INTENTS) == 17


@pytest.mark.parametrize(("intent", "question", "types"), CHINESE + ENGLISH, ids=lambda v: str(v))
def test_question_has_exactly_its_intent(intent: str, question: str, types: set[str]) -> None:
    entities = EXTRACTOR.extract(question)
    assert {e.type for e in entities} == types, entities
    assert classify_intents(question, entities) == [intent]


def test_a_disease_without_a_keyword_asks_for_its_description() -> None:
    assert classify("高血压") == ["disease_description"]
    assert classify("hypertension?") == ["disease_description"]


def test_no_entity_no_intent() -> None:
    assert classify("有什么症状？") == []
    assert classify("How long does it last?") == []


def test_intents_come_in_a_stable_order_without_duplicates() -> None:
    intents = classify("高血压有什么症状，吃什么药，挂什么科？症状严重吗，有哪些并发症")
    assert intents == ["disease_symptom", "disease_complication", "disease_drug", "disease_department"]
    assert intents == [i for i in INTENTS if i in intents]
    both = classify("What are the symptoms of gout and how is it treated? Can I eat seafood?")
    assert both == ["disease_symptom", "disease_food_recommended", "disease_food_avoid", "disease_treatment"]


def test_entity_types_decide_the_direction() -> None:
    assert classify("痛风有什么症状") == ["disease_symptom"]
    assert classify("关节痛是什么病的症状") == ["symptom_disease"]
    assert classify("阿司匹林治什么") == ["drug_disease"]
    assert classify("冠心病用什么药") == ["disease_drug"]
    assert classify("心电图查什么") == ["check_disease"]
    assert classify("冠心病查什么") == ["disease_check"]
    # A named drug or check beside a disease asks about the pair.
    assert classify("高血压能用阿司匹林吗") == ["disease_drug"]
    assert classify("冠心病要做心电图吗") == ["disease_check"]


def test_eat_means_food_unless_medicine_is_mentioned() -> None:
    assert classify("高血压吃什么") == ["disease_food_recommended"]
    assert classify("高血压吃什么药") == ["disease_drug"]
    assert classify("痛风能吃海鲜吗") == ["disease_food_recommended", "disease_food_avoid"]
    assert classify("What should I eat with gout?") == ["disease_food_recommended"]
    assert classify("What medicine should I take for gout?") == ["disease_drug"]


def test_keywords_inside_entity_names_do_not_count() -> None:
    # 食物中毒 holds 食物 (food), 药物 would hold 药 (drug): the names are blanked before matching.
    assert classify("食物中毒") == ["disease_description"]
    assert classify("食物中毒怎么治疗") == ["disease_treatment"]


def test_full_width_english_keywords_count() -> None:
    assert classify("Ｗｈａｔ ａｒｅ ｔｈｅ ｓｙｍｐｔｏｍｓ ｏｆ ｇｏｕｔ？") == ["disease_symptom"]


def test_stale_entity_offsets_are_ignored() -> None:
    stale = [ExtractedEntity("高血压", "disease", "高血压", 40, 43, "disease-hypertension")]
    assert classify_intents("高血压有什么症状", stale) == ["disease_symptom"]
