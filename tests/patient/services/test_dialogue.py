"""The pre-consultation dialogue on the starter knowledge base, without HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from backend.core.config import Settings
from backend.core.knowledge.service import KnowledgeService
from backend.patient.services.dialogue import MAX_SYMPTOM_QUESTIONS, advance, new_state


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeService:
    service = KnowledgeService(Settings(data_dir=Path(tmp_path_factory.mktemp("kb"))), "test")
    asyncio.run(service.start())
    return service


def _talk(knowledge: KnowledgeService, messages: list[str]) -> tuple[dict[str, Any], list[str]]:
    async def run() -> tuple[dict[str, Any], list[str]]:
        state = new_state()
        return state, [await advance(state, text, knowledge) for text in messages]

    return asyncio.run(run())


def test_symptom_questions_come_from_the_conditions_still_in_play(knowledge: KnowledgeService) -> None:
    state, replies = _talk(knowledge, ["我咳嗽，还发烧", "三天", "5"])
    asked = state["asked_symptoms"]
    assert len(asked) == 1
    candidates = knowledge.graph.diseases_with_symptoms(["咳嗽", "发热"], 8)
    assert any(asked[0] in record.symptoms for record, _ in candidates)
    assert asked[0] in replies[-1]
    # A complaint whose questions hold no red flag (a yes to one ends the questions: see below).
    state, _ = _talk(knowledge, ["皮肤痒，起了红疹", "一周", "3", *["有"] * MAX_SYMPTOM_QUESTIONS])
    assert len(state["asked_symptoms"]) == MAX_SYMPTOM_QUESTIONS
    assert state["stage"] == "profile"
    assert set(state["asked_symptoms"]) <= set(state["collected"]["symptoms"])  # every "yes" was recorded


def test_an_unreadable_age_and_sex_is_asked_again_once(knowledge: KnowledgeService) -> None:
    async def run() -> dict[str, Any]:
        state = new_state()
        for text in ["膝盖疼", "一个月", "4"]:
            await advance(state, text, knowledge)
        while state["stage"] == "symptoms":
            await advance(state, "没有", knowledge)
        assert state["stage"] == "profile"
        await advance(state, "不想说", knowledge)
        assert state["stage"] == "profile_again"
        await advance(state, "58岁 男", knowledge)
        return state

    state = asyncio.run(run())
    assert state["collected"]["age"] == 58.0
    assert state["collected"]["sex"] == "male"
    assert state["stage"] == "history"


def test_a_red_flag_at_any_turn_ends_the_questions_with_emergency_advice(knowledge: KnowledgeService) -> None:
    state, replies = _talk(knowledge, ["头痛", "两天", "突然说话不清楚，一侧手脚没力气"])
    assert state["stage"] == "done"
    assert state["red_flags"] == ["stroke_signs"]
    assert state["triage"]["emergency"] is True
    assert replies[-1].startswith("您描述的情况可能危及生命")


def test_history_and_allergies_are_kept_apart_for_the_doctor(knowledge: KnowledgeService) -> None:
    async def finish(answer: str) -> dict[str, Any]:
        state = new_state()
        for text in ["头痛", "两天", "4"]:
            await advance(state, text, knowledge)
        while state["stage"] == "symptoms":
            await advance(state, "没有", knowledge)
        await advance(state, "40岁 女", knowledge)
        await advance(state, answer, knowledge)
        assert state["stage"] == "done"
        return state["collected"]

    collected = asyncio.run(finish("高血压五年，青霉素过敏"))
    assert (collected["history"], collected["allergies"]) == ("高血压五年", "青霉素过敏")
    collected = asyncio.run(finish("做过阑尾手术，没有过敏"))
    assert (collected["history"], collected["allergies"]) == ("做过阑尾手术", None)
    collected = asyncio.run(finish("没有"))
    assert (collected["history"], collected["allergies"]) == (None, None)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_yes_to_a_red_flag_symptom_question_brings_emergency_advice(
    knowledge: KnowledgeService, language: str
) -> None:
    opening = ["我咳嗽，还发烧", "三天", "5"]
    if language == "en":
        opening = ["I have a cough and a fever", "3 days", "5"]

    async def run() -> tuple[dict[str, Any], str]:
        state = new_state()
        for text in opening:
            await advance(state, text, knowledge)
        # Which symptom the graph asks about depends on the knowledge base: make it the red-flag one.
        assert state["stage"] == "symptoms"
        state["asked_symptoms"][-1] = "呼吸困难"
        state["pending_symptom"] = "呼吸困难" if language == "zh" else "difficulty breathing"
        return state, await advance(state, "有" if language == "zh" else "yes", knowledge)

    state, reply = asyncio.run(run())
    assert state["stage"] == "done"
    assert "breathing" in state["red_flags"][0]
    assert state["triage"]["emergency"] is True
    assert reply.startswith("您描述的情况可能危及生命" if language == "zh" else "What you describe")
