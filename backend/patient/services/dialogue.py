"""The pre-consultation dialogue: one patient message in, the next question (or the result) out.

Every message is read for every slot (slots.py), whatever was asked; only what is still missing is
asked next (questions.py). A red flag in any message, or in the sum of them, interrupts: emergency
advice comes first and the questions end. When the summary is complete the triage runs on what
was said, with health education from the knowledge base.

A language model, when one is configured, may have read the message too (dialogue_llm.py): its
slots fill only what the rules left empty, and its wording of the next question is used only when
the rules chose that same question. `advance` itself calls no model.

`advance` only reads the knowledge base and changes the state it is given, so the state store may
run it again on a fresh copy when two messages race (optimistic concurrency).
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any, Final

from backend.core.knowledge.graph.departments import display_name
from backend.core.knowledge.qa.safety import without_doses
from backend.core.knowledge.service import KnowledgeService
from backend.core.text import Language, detect_language
from backend.patient.services.dialogue_rules import rules
from backend.patient.services.dialogue_state import QUESTION_SLOTS, new_state
from backend.patient.services.profile import read_profile
from backend.patient.services.questions import MAX_ASKS, Question, details_key, next_question, wording
from backend.patient.services.red_flags import RedFlag, detect_red_flags, emergency_advice
from backend.patient.services.slot_schema import BACKGROUND, LLMTurn, SlotUpdate
from backend.patient.services.slots import Reading, normalise, read
from backend.patient.services.triage import TriageResult, triage

__all__ = ["advance", "greeting", "load_rules", "new_state", "plan", "triage_summary"]

MAX_COMPLAINT: Final = 300
_WORDS: Final = re.compile(r"[^\W\d_]")  # a letter of any script: emoji and digits say no language
SHORT_PROFILE_ANSWER: Final = 12  # "35岁，女" is no complaint; a longer message may be one
# Said to the red-flag rules beside the messages: a pregnancy the dialogue knows of must weigh
# (abdominal pain or bleeding in pregnancy is an emergency) even when no message names it.
NOT_ABOUT_THE_COMPLAINT: Final = frozenset(
    {"profile", "age", "sex", "pregnancy", "history", "past_illnesses", "allergies", "medications"}
)


def load_rules() -> None:
    """Read and validate every rule file the dialogue uses (they are cached once read)."""
    rules()
    read_profile("")


def greeting(language: Language = "zh") -> str:
    return rules().questions.greeting.text(language)


async def advance(
    state: dict[str, Any],
    text: str,
    knowledge: KnowledgeService,
    llm: LLMTurn | None = None,
    *,
    finish: bool = True,
) -> str:
    """Take one patient message into `state`; the assistant's reply.

    `llm`: what a language model read in the same message, if one did. `finish=False` stops before
    the triage (for planning what to ask, see `plan`).
    """
    if state["language"] is None and _WORDS.search(text):
        state["language"] = detect_language(text)
    language: Language = state["language"] or state.get("ui_language") or "zh"
    collected = state["collected"]
    pending = state.get("pending") or {}
    state["history"].append(
        {"role": "patient", "text": text, "at": time.time(), "answered": pending.get("question")}
    )

    expecting = frozenset(QUESTION_SLOTS.get(pending.get("question") or "", ()))
    if pending.get("question") == "symptoms":
        expecting = frozenset({"symptom"})
    normal = normalise(text)
    entities = await knowledge.extract(normal)
    reading = await asyncio.to_thread(read, normal, entities, expecting)
    if llm is not None and reading.answer is None:
        reading.answer = llm.answer
    _take_complaint(state, reading, text, expecting)
    _merge(state, reading.update, reading)
    if llm is not None:
        _merge(state, llm.update, None)
    confirmed = _resolve(state, pending, reading, text)
    if state["stage"] == "done":
        # After the summary is complete, what the patient adds goes into it as notes too.
        collected["notes"] = ((collected.get("notes") or "") + "\n" + text).strip()[-2000:]

    flags = await _red_flags(state, confirmed, llm)
    new_flags = [flag for flag in flags if flag.code not in state["red_flags"]]
    state["red_flags"] += [flag.code for flag in new_flags]
    if new_flags:
        # Kept for the triage: the message that raised the alarm must weigh in the result.
        state["flagged_texts"].append(confirmed or text[:MAX_COMPLAINT])

    question: Question | None = None
    if state["red_flags"] or state["stage"] == "done":
        # A red flag ends the questions: the summary goes to the doctors as it is, marked urgent.
        state["stage"], state["pending"] = "done", None
    else:
        question = await next_question(state, knowledge)
        _ask(state, question)

    if state["stage"] == "done" and finish:
        result = await triage(
            knowledge,
            _triage_text(state),
            collected["age"],
            collected["sex"],
            language,
            pregnant=collected.get("pregnant"),
        )
        state["triage"] = triage_summary(result)
    reply = await _reply(state, question, reading, new_flags, knowledge, llm)
    state["history"].append({"role": "assistant", "text": reply, "at": time.time()})
    return reply


async def plan(state: dict[str, Any], text: str, knowledge: KnowledgeService) -> tuple[str, str] | None:
    """What the rules would ask after `text` (its ident and wording), on a copy; None when done."""
    trial = copy.deepcopy(state)
    await advance(trial, text, knowledge, finish=False)
    pending = trial.get("pending")
    if trial["stage"] == "done" or not pending:
        return None
    reply: str = trial["history"][-1]["text"]
    ident = f"symptoms:{pending['symptom']}" if pending.get("symptom") else pending["question"]
    return ident, reply


def _take_complaint(state: dict[str, Any], reading: Reading, text: str, expecting: frozenset[str]) -> None:
    collected = state["collected"]
    if collected["chief_complaint"] is not None:
        return
    update = reading.update
    short_profile = (update.age is not None or update.sex is not None) and len(text) <= SHORT_PROFILE_ANSWER
    free_text = (
        "chief_complaint" in expecting
        and reading.readable
        and not (reading.greeting or reading.well or reading.answer in ("skip", "no") or short_profile)
    )
    if reading.substantive or free_text:
        collected["chief_complaint"] = text.strip()[:MAX_COMPLAINT]


def _merge(state: dict[str, Any], update: SlotUpdate, reading: Reading | None) -> None:
    """Fill what `update` says and the session does not know yet; `reading` None: from the model."""
    collected = state["collected"]
    from_model = reading is None
    filled: list[str] = []
    for name in ("chief_complaint", "duration", "severity", "age", "sex", "subject"):
        value = getattr(update, name)
        if value is not None and collected.get(name) is None:
            collected[name] = value.model_dump() if hasattr(value, "model_dump") else value
            filled.append(name)
    if update.pregnant is not None and (
        collected["pregnant"] is None or (update.pregnant is False and not from_model)
    ):
        # "验孕是阴性" rules out a pregnancy assumed from a late period; a model's guess does not.
        filled += ["pregnant"] if collected["pregnant"] is None else []
        collected["pregnant"] = update.pregnant
    if collected["pregnant"]:
        collected["sex"] = "female"
    for code in update.sites:
        if code not in collected["sites"]:
            collected["sites"].append(code)
    said, denied = collected["symptoms"], collected["denied_symptoms"]
    for name in update.symptoms:
        if name in denied:
            if from_model:
                continue  # the rules read a denial here; a model does not overrule them
            denied.remove(name)
            _conflict(state, name)
        if name not in said:
            said.append(name)
            filled.append("symptoms")
    for name in update.denied_symptoms:
        if name in said:
            _conflict(state, name)  # said beats denied: a stated fever matters more than a denied one
        elif name not in denied:
            denied.append(name)
    for name in BACKGROUND:
        items = getattr(update, name)
        if items is None:
            continue
        current, vague = collected[name], name in state["vague"]
        if items:
            if from_model and current == []:
                continue  # the rules heard "none" here; a model does not overrule them
            # A later "我有高血压" corrects an earlier "没有"; details replace a bare "有".
            base = [] if vague or not current else current
            collected[name] = list(dict.fromkeys(base + items))
            if vague:
                state["vague"].remove(name)
            if current is None or vague:
                filled.append(name)
        elif current is None:
            collected[name] = []
            filled.append(name)
    for name in reading.conflicting if reading else ():
        _conflict(state, name)
    if from_model:
        state["filled_by_llm"] = list(dict.fromkeys(state["filled_by_llm"] + filled))


def _conflict(state: dict[str, Any], name: str) -> None:
    if name not in state["conflicting"]:
        state["conflicting"].append(name)


def _resolve(state: dict[str, Any], pending: dict[str, Any], reading: Reading, text: str) -> str | None:
    """Settle the question the message answered; the symptom it confirmed, if a yes did."""
    question = pending.get("question")
    collected = state["collected"]
    answer = reading.answer
    symptom = pending.get("symptom")
    if question == "symptoms" and symptom:
        if symptom in collected["symptoms"] or symptom in collected["denied_symptoms"]:
            return None
        if reading.answer_for not in (None, symptom):
            # "有点发烧" to "您有没有呕吐？" says nothing about vomiting: it is left not answered.
            answer = None
        if answer == "yes":
            collected["symptoms"].append(symptom)
            # "有" to "您有没有呼吸困难？" raises the same alarm as saying "呼吸困难" outright.
            return str(symptom)
        if answer == "no":
            collected["denied_symptoms"].append(symptom)
        elif answer == "skip" or state["asked"].get(f"symptom:{symptom}", 0) >= MAX_ASKS:
            state["unanswered_symptoms"].append(symptom)
        return None
    if question == "pregnancy" and collected["pregnant"] is None and answer in ("yes", "no"):
        collected["pregnant"] = answer == "yes"  # the model's yes or no, when the rules heard neither
    for slot in QUESTION_SLOTS.get(question or "", ()):
        if slot in reading.vague and collected.get(slot) is None:
            # "有" and no more: kept as said, and "what was it?" asked once.
            collected[slot] = [text.strip()[:60]]
            state["vague"].append(slot)
        elif slot in state["vague"] and (answer == "skip" or state["asked"].get(details_key(slot))):
            state["vague"].remove(slot)  # asked what it was, once: the "yes" stands as said
        elif (
            collected.get(slot) is None
            and (answer == "skip" or state["asked"].get(slot, 0) >= MAX_ASKS)
            and slot not in state["unanswered"]
        ):
            state["unanswered"].append(slot)
    return None


def _ask(state: dict[str, Any], question: Question | None) -> None:
    if question is None:
        state["stage"], state["pending"] = "done", None
        return
    state["stage"] = question.key
    state["pending"] = {"question": question.key, "symptom": question.symptom}
    if question.symptom is not None:
        key = f"symptom:{question.symptom}"
        if question.symptom not in state["asked_symptoms"]:
            state["asked_symptoms"].append(question.symptom)
        state["asked"][key] = state["asked"].get(key, 0) + 1
    if question.details:
        state["asked"][details_key(question.key)] = 1
        return
    for slot in question.slots:
        state["asked"][slot] = state["asked"].get(slot, 0) + 1


async def _red_flags(state: dict[str, Any], confirmed: str | None, llm: LLMTurn | None) -> list[RedFlag]:
    """Red flags in this message, and in all the patient said of the complaint so far: a pair of signs
    may come in two messages ("高烧40度", later "脖子硬"). Answers about who they are and their past
    are read on their own only: "对青霉素过敏" is a history, and beside an earlier "头晕" no anaphylaxis."""
    collected = state["collected"]
    said = [m for m in state["history"] if m.get("role") == "patient"]
    complaint = [m["text"] for m in said if m.get("answered") not in NOT_ABOUT_THE_COMPLAINT]
    extra = [confirmed] if confirmed else []
    if llm is not None:
        # What the model read as said (never over a denial the rules read) may add an alarm,
        # never remove one.
        extra += [name for name in llm.update.symptoms if name in collected["symptoms"]]
    texts = ["\n".join([*complaint, *extra])]
    if said and said[-1].get("answered") in NOT_ABOUT_THE_COMPLAINT:
        texts.append("\n".join([said[-1]["text"], *extra]))  # read on its own
    found: dict[str, RedFlag] = {}
    pregnant = collected.get("pregnant")
    for text in texts:
        for flag in await asyncio.to_thread(detect_red_flags, text, collected["age"], pregnant=pregnant):
            found.setdefault(flag.code, flag)
    return list(found.values())


def _triage_text(state: dict[str, Any]) -> str:
    collected = state["collected"]
    parts = [*state["flagged_texts"], collected["chief_complaint"] or "", "，".join(collected["symptoms"])]
    return "，".join(part for part in parts if part)[:1000]


def triage_summary(result: TriageResult) -> dict[str, Any]:
    zh = result.language == "zh"
    return {
        "departments": [
            {"name": display_name(d.name, result.language), "score": d.score} for d in result.departments
        ],
        "possible_conditions": [{"name": c.name, "score": c.score} for c in result.possible_conditions],
        "red_flags": [{"code": f.code, "name": f.name if zh else f.name_en} for f in result.red_flags],
        "emergency": result.emergency,
        "advice": result.advice,
        "department": result.departments[0].name,  # the taxonomy's name: what the inbox filters by
        "condition_ids": result.condition_ids,
    }


async def _reply(
    state: dict[str, Any],
    question: Question | None,
    reading: Reading,
    new_flags: list[RedFlag],
    knowledge: KnowledgeService,
    llm: LLMTurn | None,
) -> str:
    language: Language = state["language"] or state.get("ui_language") or "zh"
    texts = rules().questions
    if state["red_flags"]:
        # Emergency advice first, every time: in full for a new flag, its first line after that.
        flags = new_flags or []
        return emergency_advice(flags, language) + "\n\n" + texts.done.text(language)
    if question is None:
        if state["triage"] is None:
            return texts.done.text(language)
        departments = ("、" if language == "zh" else ", ").join(
            d["name"] for d in state["triage"].get("departments", [])[:2]
        )
        intro = texts.suggested.text(language).replace("{departments}", departments)
        parts = [
            intro,
            state["triage"].get("advice", ""),
            await _education(state, language, knowledge),
            texts.done.text(language),
        ]
        return "\n\n".join(part for part in parts if part)
    symptom_name = question.symptom
    if question.symptom and language == "en":
        symptom_name = knowledge.graph.name_en("symptom", question.symptom) or question.symptom
    asked = wording(question, language, symptom_name)
    if llm is not None and llm.question and llm.question_for == question.ident:
        asked = llm.question
    if not reading.readable:
        return texts.unreadable.text(language) + "\n" + asked
    if question.key == "complaint" and reading.well:
        return texts.well.text(language)
    return asked


async def _education(state: dict[str, Any], language: Language, knowledge: KnowledgeService) -> str:
    """Plain health education on the likeliest condition, from its knowledge-base record."""
    ids = (state["triage"] or {}).get("condition_ids") or []
    record = await asyncio.to_thread(knowledge.graph.record, ids[0]) if ids else None
    if record is None:
        return ""
    zh = language == "zh"
    description = record.description if zh or not record.description_en else record.description_en
    lines = [
        f"关于{record.name}：{description}" if zh else f"About {record.name_en or record.name}: {description}"
    ]
    if zh and record.prevention:
        lines.append("日常注意：" + "；".join(record.prevention[:4]))
    if zh and record.red_flags:
        lines.append("出现以下情况请立即就医：" + "；".join(record.red_flags[:4]))
    return without_doses("\n".join(lines), language)
