"""The pre-consultation dialogue: one patient message in, the next question (or the result) out.

Stages, in order: chief complaint -> duration -> severity -> accompanying symptoms -> age and sex
-> history and allergies -> done (triage result and health education from the knowledge base).
The symptom questions are chosen from the knowledge graph: among the conditions that fit what the
patient has said so far, ask about the symptom that splits them most evenly, so each answer rules
out as much as possible. A red flag in any message interrupts: emergency advice comes first.

`advance` only reads the knowledge base and changes the state it is given, so the state store may
run it again on a fresh copy when two messages race (optimistic concurrency).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Final, Literal

from backend.core.knowledge.graph.departments import display_name
from backend.core.knowledge.qa.safety import without_doses
from backend.core.knowledge.service import KnowledgeService
from backend.core.text import Language, detect_language
from backend.patient.services.red_flags import detect_red_flags, emergency_advice
from backend.patient.services.triage import TriageResult, triage

Stage = Literal[
    "complaint", "duration", "severity", "symptoms", "profile", "profile_again", "history", "done"
]
MAX_SYMPTOM_QUESTIONS: Final = 3
CANDIDATE_CONDITIONS: Final = 8

QUESTIONS: Final[dict[str, dict[Language, str]]] = {
    "greeting": {
        "zh": "您好，我是预问诊助手。请用一两句话描述您哪里不舒服。",
        "en": "Hello, I am the pre-consultation assistant. In a sentence or two, what is troubling you?",
    },
    "duration": {"zh": "这种情况持续多久了？", "en": "How long has this been going on?"},
    "severity": {
        "zh": "如果用1到10分表示难受程度（10分最重），您现在大概几分？",
        "en": "On a scale of 1 to 10 (10 the worst), how bad is it now?",
    },
    "symptom": {"zh": "您有没有{}？", "en": "Do you also have {}?"},
    "profile": {"zh": "请告诉我您的年龄和性别。", "en": "Please tell me your age and sex."},
    "profile_again": {
        "zh": "没能看出您的年龄和性别，请按“35岁，女”这样的格式回答；不方便说也可以回答“跳过”。",
        "en": "I could not tell your age and sex; please answer like '35, female', or say 'skip'.",
    },
    "history": {
        "zh": "您以前有什么疾病，或者对什么药物、食物过敏吗？没有的话请回答“没有”。",
        "en": "Any past illnesses, or allergies to medicines or foods? If none, say 'none'.",
    },
    "done": {
        "zh": "信息已收集完毕。您可以把这份预问诊摘要提交给医生，或继续补充情况。",
        "en": "That is everything I need. You can submit this summary to the doctors, or add more.",
    },
}

# No is checked first: "没有" starts like "有". Chinese needs no word boundary (\b would fail
# between two Chinese characters); English does ("no" must not match "nose").
_NO = re.compile(r"^\s*(?:没有|没|无|不是|不会|否|(?:no|nope|n|none|not really|i don'?t)\b)", re.IGNORECASE)
_YES = re.compile(r"^\s*(?:是|有|对|嗯|会|偶尔|(?:yes|yeah|yep|y|i do|sometimes)\b)", re.IGNORECASE)
_NONE = re.compile(r"^\s*(?:没有|无|都没有|没|none|no|nothing|n/a)\s*[。.!！]?\s*$", re.IGNORECASE)
_CLAUSE = re.compile(r"[，,。；;\n]|\band\b|另外|还有")
_ALLERGY = re.compile(r"过敏|allerg", re.IGNORECASE)
_DENIED = re.compile(r"没有|无|否认|不过敏|\b(?:no|not|none|deny|denies)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")
_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_AGE = re.compile(r"(\d{1,3})\s*(?:岁|周岁|years?|yrs?|y/?o)|(?:age|aged|今年)\s*(\d{1,3})", re.IGNORECASE)
_MONTHS = re.compile(r"(\d{1,2})\s*(?:个月|months?)", re.IGNORECASE)
_MALE = re.compile(r"男|\bmale\b|\bman\b|\bboy\b|\bM\b")
_FEMALE = re.compile(r"女|\bfemale\b|\bwoman\b|\bgirl\b|\bF\b")
_SEVERITY_WORDS = {
    "轻": 3,
    "mild": 3,
    "中": 5,
    "moderate": 5,
    "重": 8,
    "severe": 8,
    "剧": 9,
    "unbearable": 10,
}


def new_state() -> dict[str, Any]:
    return {
        "stage": "complaint",
        "language": None,
        "collected": {
            "chief_complaint": None,
            "duration": None,
            "severity": None,
            "symptoms": [],
            "denied_symptoms": [],
            "age": None,
            "sex": None,
            "history": None,
            "allergies": None,
        },
        "asked_symptoms": [],
        "pending_symptom": None,
        "red_flags": [],
        "triage": None,
        "record_id": None,
        "history": [],
    }


def greeting(language: Language = "zh") -> str:
    return QUESTIONS["greeting"][language]


async def advance(state: dict[str, Any], text: str, knowledge: KnowledgeService) -> str:
    """Take one patient message into `state`; the assistant's reply."""
    language: Language = state["language"] or detect_language(text)
    state["language"] = language
    collected = state["collected"]
    state["history"].append({"role": "patient", "text": text, "at": time.time()})

    # "有" to "您有没有呼吸困难？" raises the same alarm as saying "呼吸困难" outright.
    confirmed = _confirmed_symptom(state, text)
    flags = detect_red_flags(text if confirmed is None else f"{text}，{confirmed}", collected["age"])
    if flags:
        # Kept for the triage: the message that raised the alarm must weigh in the result.
        state.setdefault("flagged_texts", []).append(confirmed or text)
    new_flags = [flag for flag in flags if flag.code not in state["red_flags"]]
    state["red_flags"] += [flag.code for flag in new_flags]

    stage: Stage = state["stage"]
    if stage == "complaint":
        collected["chief_complaint"] = text
        collected["symptoms"] = await _symptoms_in(text, knowledge)
        state["stage"] = "duration"
    elif stage == "duration":
        collected["duration"] = text.strip()
        state["stage"] = "severity"
    elif stage == "severity":
        collected["severity"] = _severity(text)
        state["stage"] = "symptoms"
    elif stage == "symptoms":
        _answer_symptom(state, text)
        for symptom in await _symptoms_in(text, knowledge):
            if symptom not in collected["symptoms"]:
                collected["symptoms"].append(symptom)
    elif stage in ("profile", "profile_again"):
        age, sex = _profile(text)
        collected["age"] = age if age is not None else collected["age"]
        collected["sex"] = sex or collected["sex"]
        # Asked again once only: the patient may prefer not to say.
        unreadable = age is None and sex is None
        state["stage"] = "profile_again" if unreadable and stage == "profile" else "history"
    elif stage == "history":
        collected["history"], collected["allergies"] = _history_and_allergies(text)
        state["stage"] = "done"
    else:  # done: what the patient adds goes into the summary
        collected["notes"] = ((collected.get("notes") or "") + "\n" + text).strip()

    if flags:
        # A red flag ends the questions: the summary goes to the doctors as it is, marked urgent.
        state["stage"] = "done"
    elif state["stage"] == "symptoms":
        question = await _next_symptom_question(state, knowledge)
        if question is None:
            state["stage"] = "profile"

    if state["stage"] == "done":
        complaint = "，".join([*state.get("flagged_texts", []), _summary_text(collected)])
        result = await triage(knowledge, complaint[:1000], collected["age"], collected["sex"], language)
        state["triage"] = triage_summary(result)

    if flags:
        # Red flags interrupt whatever the dialogue was doing: emergency advice first, every time.
        reply = emergency_advice(flags, language) + "\n\n" + QUESTIONS["done"][language]
    else:
        reply = _reply(
            state, language, await _education(state, knowledge) if state["stage"] == "done" else ""
        )
    state["history"].append({"role": "assistant", "text": reply, "at": time.time()})
    return reply


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


def _reply(state: dict[str, Any], language: Language, education: str) -> str:
    stage = state["stage"]
    if stage == "symptoms":
        return QUESTIONS["symptom"][language].format(state["pending_symptom"])
    if stage == "done":
        triage_result = state["triage"] or {}
        departments = ("、" if language == "zh" else ", ").join(
            d["name"] for d in triage_result.get("departments", [])[:2]
        )
        intro = (
            f"建议就诊科室：{departments}。" if language == "zh" else f"Suggested department: {departments}."
        )
        parts = [intro, triage_result.get("advice", ""), education, QUESTIONS["done"][language]]
        return "\n\n".join(part for part in parts if part)
    return QUESTIONS[stage][language]


async def _symptoms_in(text: str, knowledge: KnowledgeService) -> list[str]:
    return list(dict.fromkeys(e.name for e in await knowledge.extract(text) if e.type == "symptom"))


def _confirmed_symptom(state: dict[str, Any], text: str) -> str | None:
    """The symptom just asked about (its canonical name, in any session language) when `text` says yes."""
    if state["stage"] == "symptoms" and state["pending_symptom"] is not None and _YES.match(text):
        return str(state["asked_symptoms"][-1])
    return None


def _answer_symptom(state: dict[str, Any], text: str) -> None:
    pending = state["pending_symptom"]
    if pending is None:
        return
    collected = state["collected"]
    if _NO.match(text):
        collected["denied_symptoms"].append(pending)
    elif _YES.match(text) and pending not in collected["symptoms"]:
        collected["symptoms"].append(pending)
    state["pending_symptom"] = None


async def _next_symptom_question(state: dict[str, Any], knowledge: KnowledgeService) -> str | None:
    """The symptom that best splits the conditions still in play, or None when done asking."""
    if len(state["asked_symptoms"]) >= MAX_SYMPTOM_QUESTIONS:
        return None
    collected = state["collected"]
    known = set(collected["symptoms"]) | set(collected["denied_symptoms"]) | set(state["asked_symptoms"])
    graph = knowledge.graph
    # Reads the candidates' records from disk (records.py): in the thread pool.
    candidates = await asyncio.to_thread(
        graph.diseases_with_symptoms, collected["symptoms"], CANDIDATE_CONDITIONS
    )
    if len(candidates) < 2:
        return None
    total = sum(score for _, score in candidates)
    share: dict[str, float] = {}
    for record, score in candidates:
        for symptom in record.symptoms:
            if symptom not in known:
                share[symptom] = share.get(symptom, 0.0) + score / total
    if not share:
        return None
    # Closest to half the candidates' weight: a yes or a no rules out the most.
    symptom = min(share, key=lambda name: (abs(share[name] - 0.5), name))
    state["asked_symptoms"].append(symptom)
    state["pending_symptom"] = symptom
    if state["language"] == "en":
        state["pending_symptom"] = graph.name_en("symptom", symptom) or symptom
    return symptom


def _severity(text: str) -> int | None:
    number = _NUMBER.search(text)
    if number:
        return max(1, min(10, round(float(number.group(1)))))
    for word, value in _CN_DIGITS.items():
        if word in text:
            return value
    lowered = text.lower()
    return next((value for word, value in _SEVERITY_WORDS.items() if word in lowered), None)


def _profile(text: str) -> tuple[float | None, str | None]:
    age: float | None = None
    if match := _AGE.search(text):
        age = float(match.group(1) or match.group(2))
    elif match := _MONTHS.search(text):
        age = round(int(match.group(1)) / 12, 2)
    elif (number := _NUMBER.search(text)) and 0 < float(number.group(1)) <= 120:
        age = float(number.group(1))
    sex = "female" if _FEMALE.search(text) else "male" if _MALE.search(text) else None
    return age, sex


def _history_and_allergies(text: str) -> tuple[str | None, str | None]:
    """Past illnesses and allergies from one answer: the clauses that mention an allergy are allergies."""
    if _NONE.match(text):
        return None, None
    clauses = [c.strip() for c in _CLAUSE.split(text) if c.strip()]
    mentions = [c for c in clauses if _ALLERGY.search(c)]
    allergies = [c for c in mentions if not _DENIED.search(c)]  # "没有过敏" is not an allergy
    history = [c for c in clauses if c not in mentions and not _NONE.match(c)]
    return ("；".join(history) or None), ("；".join(allergies) or None)


def _summary_text(collected: dict[str, Any]) -> str:
    parts = [collected["chief_complaint"] or "", "，".join(collected["symptoms"])]
    return "，".join(part for part in parts if part)[:1000]


async def _education(state: dict[str, Any], knowledge: KnowledgeService) -> str:
    """Plain health education on the likeliest condition, from its knowledge-base record."""
    ids = (state["triage"] or {}).get("condition_ids") or []
    record = await asyncio.to_thread(knowledge.graph.record, ids[0]) if ids else None
    if record is None:
        return ""
    zh = state["language"] == "zh"
    description = record.description if zh or not record.description_en else record.description_en
    lines = [
        f"关于{record.name}：{description}" if zh else f"About {record.name_en or record.name}: {description}"
    ]
    if zh and record.prevention:
        lines.append("日常注意：" + "；".join(record.prevention[:4]))
    if zh and record.red_flags:
        lines.append("出现以下情况请立即就医：" + "；".join(record.red_flags[:4]))
    return without_doses("\n".join(lines), state["language"])
