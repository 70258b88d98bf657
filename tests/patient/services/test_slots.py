"""Slot extraction by the reviewed rules: every slot from every message, as worried patients write them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from backend.core.config import Settings
from backend.core.knowledge.service import KnowledgeService
from backend.core.rules import RulesError, load_rules
from backend.patient.services.dialogue_rules import RULES_DIR, QuestionRules, SlotRules, rules
from backend.patient.services.slots import Reading, classify, normalise, read


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeService:
    service = KnowledgeService(Settings(data_dir=Path(tmp_path_factory.mktemp("kb"))), "test")
    asyncio.run(service.start())
    return service


def _read(knowledge: KnowledgeService, text: str, *expecting: str) -> Reading:
    normal = normalise(text)
    entities = asyncio.run(knowledge.extract(normal))
    return read(normal, entities, frozenset(expecting))


def _slots(reading: Reading) -> dict[str, Any]:
    return {k: v for k, v in reading.update.model_dump().items() if v is not None and v != []}


def test_one_message_fills_every_slot_it_carries(knowledge: KnowledgeService) -> None:
    slots = _slots(_read(knowledge, "我头痛三天了，挺严重的，35岁女，没有发烧"))
    assert slots == {
        "sites": ["head"],
        "duration": {"text": "三天", "days": 3.0},
        "severity": {"score": 7, "text": "挺严重"},
        "symptoms": ["头痛"],
        "denied_symptoms": ["发热"],
        "age": 35.0,
        "sex": "female",
    }
    slots = _slots(_read(knowledge, "My stomach hurts really bad since last week, I'm 42 male, no fever"))
    assert slots["duration"] == {"text": "since last week", "days": 7.0}
    assert slots["severity"]["score"] == 7
    assert (slots["age"], slots["sex"], slots["sites"]) == (42.0, "male", ["abdomen"])
    assert slots["denied_symptoms"] == ["发热"]
    slots = _slots(_read(knowledge, "高血压五年了，在吃氨氯地平，对青霉素过敏，两个多月前开始咳嗽"))
    assert slots["past_illnesses"] == ["高血压"]
    assert slots["medications"] == ["氨氯地平"]
    assert slots["allergies"] == ["青霉素"]
    assert slots["symptoms"] == ["咳嗽"]
    assert slots["duration"]["text"] == "两个多月"  # "五年" dates the high blood pressure, not the cough


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("头痛三天了", 3.0),
        ("两个多月了", 60.0),
        ("十几天", 15.0),
        ("一年半", 547.5),
        ("一个半月", 45.0),
        ("半年了", 182.0),
        ("从昨天开始的", 1.0),
        ("3 weeks", 21.0),
        ("a couple of days", 2.0),
        ("since yesterday", 1.0),
        ("for about two months", 60.0),
    ],
)
def test_durations_in_words_and_numbers(knowledge: KnowledgeService, text: str, days: float) -> None:
    duration = _read(knowledge, text).update.duration
    assert duration is not None
    assert duration.days == days


@pytest.mark.parametrize(
    "text", ["我家宝宝3个月大，发烧了", "一天三次", "孕12周", "twice a day", "每三天一次", "两年前做过手术"]
)
def test_numbers_that_are_no_duration(knowledge: KnowledgeService, text: str) -> None:
    assert _read(knowledge, text).update.duration is None


def test_a_vague_duration_counts_only_as_the_answer_to_how_long(knowledge: KnowledgeService) -> None:
    assert _read(knowledge, "最近头痛").update.duration is None
    duration = _read(knowledge, "很久了", "duration").update.duration
    assert duration is not None
    assert (duration.text, duration.days) == ("很久", None)


@pytest.mark.parametrize(
    ("text", "score", "expecting"),
    [
        ("轻微", 2, ""),
        ("有点疼", 3, ""),
        ("中等程度", 5, ""),
        ("挺严重的", 7, ""),
        ("疼得受不了", 10, ""),
        ("剧烈", 9, ""),
        ("7分", 7, ""),
        ("大概七分吧", 7, ""),
        ("7/10", 7, ""),
        ("6 out of 10", 6, ""),
        ("pretty bad", 7, ""),
        ("mild", 2, ""),
        ("5", 5, "severity"),
        ("还好", 3, "severity"),
        ("一般", 5, "severity"),
    ],
)
def test_severity_in_words_or_numbers(
    knowledge: KnowledgeService, text: str, score: int, expecting: str
) -> None:
    severity = _read(knowledge, text, *filter(None, [expecting])).update.severity
    assert severity is not None
    assert severity.score == score


@pytest.mark.parametrize("text", ["会不会很严重？", "严重吗", "十分担心", "有点发烧", "考了90分", "3分钟"])
def test_worries_and_other_words_are_no_severity(knowledge: KnowledgeService, text: str) -> None:
    assert _read(knowledge, text).update.severity is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("有一点", "yes"),
        ("好像有", "yes"),
        ("偶尔会", "yes"),
        ("经常", "yes"),
        ("是的", "yes"),
        ("对", "yes"),
        ("嗯，我觉得有点", "yes"),
        ("a bit", "yes"),
        ("sometimes", "yes"),
        ("Yeah, I think so", "yes"),
        ("没有过", "no"),
        ("不太会", "no"),
        ("好像没有", "no"),
        ("还好", "no"),
        ("从来没有", "no"),
        ("not really", "no"),
        ("never", "no"),
        ("I don't think so", "no"),
        ("跳过", "skip"),
        ("不知道", "skip"),
        ("说不清", "skip"),
        ("skip", "skip"),
        ("not sure", "skip"),
        ("有没有关系？", None),
        ("不过头更疼了", None),
        ("头痛", None),
    ],
)
def test_yes_no_and_skip_in_other_words(text: str, answer: str | None) -> None:
    assert classify(text)[0] == answer


@pytest.mark.parametrize(
    ("text", "said", "denied"),
    [
        ("没有发烧和咳嗽", [], ["发热", "咳嗽"]),
        ("头痛，但是不恶心也不呕吐", ["头痛"], ["恶心", "呕吐"]),
        ("发烧倒是没有，就是头晕", ["头晕"], ["发热"]),
        ("I have a headache and no fever or cough", ["头痛"], ["发热", "咳嗽"]),
        ("有没有可能是发烧引起的", ["发热"], []),  # a question, not a denial
        ("咳嗽没有好转", ["咳嗽"], []),
    ],
)
def test_symptoms_said_and_denied(
    knowledge: KnowledgeService, text: str, said: list[str], denied: list[str]
) -> None:
    update = _read(knowledge, text).update
    assert (update.symptoms, update.denied_symptoms) == (said, denied)


def test_a_symptom_both_denied_and_stated_is_kept_as_stated_and_flagged(knowledge: KnowledgeService) -> None:
    reading = _read(knowledge, "不发烧，发烧38度")
    assert (reading.update.symptoms, reading.update.denied_symptoms) == (["发热"], [])
    assert reading.conflicting == ["发热"]


@pytest.mark.parametrize(
    ("text", "expecting", "slot", "value"),
    [
        ("以前做过阑尾手术", "", "past_illnesses", ["阑尾手术"]),
        ("有糖尿病好多年了", "", "past_illnesses", ["糖尿病"]),
        ("有点感冒", "", "past_illnesses", None),  # a complaint now, not a past illness
        ("对头孢和海鲜过敏", "", "allergies", ["头孢", "海鲜"]),
        ("没有过敏", "", "allergies", []),
        ("过敏性鼻炎", "", "allergies", None),  # an illness
        ("在吃降压药", "", "medications", ["降压药"]),
        ("吃了东西以后肚子疼", "", "medications", None),
        ("没有吃药", "", "medications", []),
        ("海鲜", "allergies", "allergies", ["海鲜"]),
        ("阿司匹林", "medications", "medications", ["阿司匹林"]),
        ("没有", "allergies", "allergies", []),
        ("none", "medications", "medications", []),
    ],
)
def test_past_illnesses_allergies_and_medicines(
    knowledge: KnowledgeService, text: str, expecting: str, slot: str, value: list[str] | None
) -> None:
    reading = _read(knowledge, text, *filter(None, [expecting]))
    assert getattr(reading.update, slot) == value


def test_none_to_the_three_background_questions_at_once_denies_all_three(knowledge: KnowledgeService) -> None:
    update = _read(knowledge, "都没有", "past_illnesses", "allergies", "medications").update
    assert (update.past_illnesses, update.allergies, update.medications) == ([], [], [])
    # Naming one answers that one only: the others are asked again.
    update = _read(knowledge, "没有过敏", "past_illnesses", "allergies", "medications").update
    assert (update.past_illnesses, update.allergies, update.medications) == (None, [], None)


def test_a_short_answer_to_age_and_sex(knowledge: KnowledgeService) -> None:
    for text in ("35, female", "女 35", "35岁，女", "35 F"):
        update = _read(knowledge, text, "age", "sex").update
        assert (update.age, update.sex) == (35.0, "female"), text
    assert _read(knowledge, "头痛3天").update.age is None


def test_messages_that_say_nothing_are_told_apart(knowledge: KnowledgeService) -> None:
    assert not _read(knowledge, "😭😭😭").readable
    assert _read(knowledge, "你好").greeting
    assert _read(knowledge, "没有不舒服").well
    assert _read(knowledge, "5", "severity").readable


def test_the_rule_files_load_and_a_bad_one_is_refused_naming_the_field(tmp_path: Path) -> None:
    compiled = rules()
    assert len(compiled.slots.sites.site) > 10
    assert "{symptom}" in compiled.questions.symptom.zh
    bad = (
        (RULES_DIR / "slots.toml")
        .read_text(encoding="utf-8")
        .replace("allergy_patterns = ['过敏(?!性)'", "allergy_patterns = ['过敏(?!性'", 1)
    )
    (tmp_path / "slots.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(RulesError, match=r"slots\.toml: background: allergy_patterns 1"):
        load_rules(tmp_path / "slots.toml", SlotRules)
    wording = (
        (RULES_DIR / "questions.toml")
        .read_text(encoding="utf-8")
        .replace("您有没有{symptom}？", "您有没有？")
    )
    (tmp_path / "questions.toml").write_text(wording, encoding="utf-8")
    with pytest.raises(RulesError, match=r"questions\.toml: symptom"):
        load_rules(tmp_path / "questions.toml", QuestionRules)
