"""What to ask next: only what is still missing, each at most twice, in a triage nurse's order.

complaint -> how long -> how bad -> the symptoms that best separate the conditions still in play
(from the knowledge graph, at most MAX_SYMPTOM_QUESTIONS) -> age and sex -> pregnancy (women of
child-bearing age) -> past illnesses, allergies and medicines (one question for the three, then
one for each still missing) -> done. A slot already filled, from any message, is never asked; one
asked and not understood is asked once more with other words, then left "not answered".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from backend.core.knowledge.service import KnowledgeService
from backend.core.text import Language
from backend.patient.services.dialogue_rules import Wording, rules
from backend.patient.services.red_flags import detect_red_flags

MAX_SYMPTOM_QUESTIONS: Final = 3
MAX_ASKS: Final = 2
CANDIDATE_CONDITIONS: Final = 8
RED_FLAG_SCREEN_SHARE: Final = (
    0.25  # a danger symptom of at least this share of the candidates is asked first
)
PREGNANCY_AGES: Final = (12.0, 55.0)
BACKGROUND: Final = ("past_illnesses", "allergies", "medications")


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # one of dialogue_state.QUESTION_SLOTS
    slots: tuple[str, ...]
    symptom: str | None = None  # canonical name, for "symptoms"
    again: bool = False  # asked before and not understood: other words
    details: bool = False  # a list slot answered "yes" without saying what

    @property
    def ident(self) -> str:
        """What the question asks about, for comparing two plans of the same turn."""
        return f"symptoms:{self.symptom}" if self.symptom else self.key


def details_key(slot: str) -> str:
    return f"details:{slot}"


def askable(state: dict[str, Any], slot: str) -> bool:
    return (
        state["collected"].get(slot) is None
        and slot not in state["unanswered"]
        and state["asked"].get(slot, 0) < MAX_ASKS
    )


def pregnancy_applies(collected: dict[str, Any]) -> bool:
    age = collected.get("age")
    if collected.get("sex") != "female" or collected.get("subject") == "child":
        return False
    return age is None or PREGNANCY_AGES[0] <= age <= PREGNANCY_AGES[1]


async def next_question(state: dict[str, Any], knowledge: KnowledgeService) -> Question | None:
    """The next question, or None when the summary is complete (or as complete as the patient wants)."""
    collected = state["collected"]
    asked = state["asked"]
    if askable(state, "chief_complaint"):
        return Question("complaint", ("chief_complaint",), again=asked.get("chief_complaint", 0) >= 1)
    if collected["chief_complaint"] is not None:
        for slot in ("duration", "severity"):
            if askable(state, slot):
                return Question(slot, (slot,), again=asked.get(slot, 0) >= 1)
        pending = state.get("pending") or {}
        symptom = pending.get("symptom") if pending.get("question") == "symptoms" else None
        if symptom and state["asked"].get(f"symptom:{symptom}", 0) < MAX_ASKS and _open(state, symptom):
            return Question("symptoms", (), symptom=symptom, again=True)
        symptom = await _best_symptom(state, knowledge)
        if symptom is not None:
            return Question("symptoms", (), symptom=symptom)
    missing = [slot for slot in ("age", "sex") if askable(state, slot)]
    if missing:
        again = any(asked.get(slot, 0) >= 1 for slot in missing)
        return Question("profile" if len(missing) == 2 else missing[0], tuple(missing), again=again)
    if pregnancy_applies(collected) and askable(state, "pregnant"):
        return Question("pregnancy", ("pregnant",), again=asked.get("pregnant", 0) >= 1)
    missing = [slot for slot in BACKGROUND if askable(state, slot)]
    if len(missing) == len(BACKGROUND) and not any(asked.get(slot) for slot in BACKGROUND):
        return Question("history", BACKGROUND)
    if missing:
        return Question(missing[0], (missing[0],), again=asked.get(missing[0], 0) >= 1)
    for slot in BACKGROUND:
        # "有" to "any allergies?" is an answer, not a failure to answer: "to what?" follows, once.
        if slot in state["vague"] and not asked.get(details_key(slot)):
            return Question(slot, (slot,), details=True)
    return None


def _open(state: dict[str, Any], symptom: str) -> bool:
    collected = state["collected"]
    return (
        symptom not in collected["symptoms"]
        and symptom not in collected["denied_symptoms"]
        and symptom not in state["unanswered_symptoms"]
    )


async def _best_symptom(state: dict[str, Any], knowledge: KnowledgeService) -> str | None:
    """The symptom that best splits the conditions still in play, or None when done asking."""
    if len(state["asked_symptoms"]) >= MAX_SYMPTOM_QUESTIONS:
        return None
    collected = state["collected"]
    if not collected["symptoms"]:
        return None
    known = set(collected["symptoms"]) | set(collected["denied_symptoms"]) | set(state["asked_symptoms"])
    # Reads the candidates' records from disk (records.py): in the thread pool.
    candidates = await asyncio.to_thread(
        knowledge.graph.diseases_with_symptoms, collected["symptoms"], CANDIDATE_CONDITIONS
    )
    if len(candidates) < 2:
        return None
    total = sum(score for _, score in candidates) or 1.0
    share: dict[str, float] = {}
    for record, score in candidates:
        for symptom in record.symptoms:
            if symptom not in known:
                share[symptom] = share.get(symptom, 0.0) + score / total
    if not share:
        return None
    # A nurse screens for danger first: one question about a symptom of the conditions in play that
    # would be a red flag (呼吸困难 with cough and fever), unless one was asked already.
    danger = await asyncio.to_thread(_red_flag_symptoms, [*share, *state["asked_symptoms"]])
    if not danger & set(state["asked_symptoms"]):
        screen = [name for name in share if name in danger and share[name] >= RED_FLAG_SCREEN_SHARE]
        if screen:
            return max(screen, key=lambda name: (share[name], name))
    # Closest to half the candidates' weight: a yes or a no rules out the most.
    return min(share, key=lambda name: (abs(share[name] - 0.5), name))


def _red_flag_symptoms(symptoms: list[str]) -> set[str]:
    return {name for name in symptoms if detect_red_flags(name)}


def wording(question: Question, language: Language, symptom_name: str | None = None) -> str:
    """The question in the patient's language, from rules/questions.toml."""
    texts = rules().questions
    if question.details:
        details: Wording = getattr(texts, f"{question.key}_details")
        return details.text(language)
    asked: Wording = texts.symptom if question.symptom is not None else getattr(texts, question.key)
    text = asked.text(language, again=question.again)
    if question.symptom is not None:
        return text.replace("{symptom}", symptom_name or question.symptom)
    return text
