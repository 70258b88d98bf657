"""The layout of a pre-consultation session's state, and the upgrade of sessions begun before it.

Version 2 (slot filling) keeps, besides what was collected (slot_schema.empty_collected), what was
asked and how often, so nothing is asked twice and nothing more than once again:

    {"stage": "duration",                     # the question waiting for an answer, or "done"
     "language": "zh", "ui_language": "zh",  # the patient's (from their words), the portal's
     "collected": {...},                      # slot_schema's keys
     "pending": {"question": "duration", "symptom": null},
     "asked": {"chief_complaint": 1, "duration": 1, "symptom:发热": 1},
     "unanswered": ["severity"],              # asked twice, or skipped: not asked again
     "vague": [],                             # list slots answered "yes" without saying what
     "asked_symptoms": ["发热"], "unanswered_symptoms": [], "conflicting": [],
     "filled_by_llm": [],                     # slots only the language model read
     "red_flags": [], "flagged_texts": [], "triage": null, "record_id": null, "history": [...]}

Version 1 (the fixed form) sessions still in Redis are upgraded by `upgrade_from_v1`, which the
state store applies when it reads one; the next write stores the new layout.
"""

from __future__ import annotations

from typing import Any, Final

from backend.core.text import Language
from backend.patient.services.slot_schema import empty_collected

STATE_VERSION: Final = 2

# The questions the assistant asks, and the slots each one fills.
QUESTION_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "complaint": ("chief_complaint",),
    "duration": ("duration",),
    "severity": ("severity",),
    "symptoms": (),  # one symptom at a time: state["pending"]["symptom"]
    "profile": ("age", "sex"),
    "age": ("age",),
    "sex": ("sex",),
    "pregnancy": ("pregnant",),
    "history": ("past_illnesses", "allergies", "medications"),
    "past_illnesses": ("past_illnesses",),
    "allergies": ("allergies",),
    "medications": ("medications",),
}


def new_state(ui_language: Language = "zh") -> dict[str, Any]:
    """`ui_language`: the portal's, spoken until the patient writes a word (emoji say no language)."""
    # The greeting asks for the complaint: that is its first time.
    return {
        "stage": "complaint",
        "language": None,
        "ui_language": ui_language,
        "collected": empty_collected(),
        "pending": {"question": "complaint", "symptom": None},
        "asked": {"chief_complaint": 1},
        "unanswered": [],
        "vague": [],
        "asked_symptoms": [],
        "unanswered_symptoms": [],
        "conflicting": [],
        "filled_by_llm": [],
        "red_flags": [],
        "flagged_texts": [],
        "triage": None,
        "record_id": None,
        "history": [],
    }


_V1_STAGES: Final = {
    "complaint": "complaint",
    "duration": "duration",
    "severity": "severity",
    "symptoms": "symptoms",
    "profile": "profile",
    "profile_again": "profile",
    "history": "history",
    "done": "done",
}
_V1_ORDER: Final = (
    "complaint",
    "duration",
    "severity",
    "symptoms",
    "profile",
    "profile_again",
    "history",
    "done",
)


def upgrade_from_v1(old: dict[str, Any]) -> dict[str, Any]:
    """A version-1 state (the fixed form) in the version-2 layout, the dialogue continuing where it was."""
    state = new_state()
    language = old.get("language")
    if language in ("zh", "en"):
        state["language"] = state["ui_language"] = language
    for key in ("red_flags", "flagged_texts"):
        value = old.get(key)
        state[key] = [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
    state["triage"] = old.get("triage") if isinstance(old.get("triage"), dict) else None
    state["record_id"] = old.get("record_id") if isinstance(old.get("record_id"), str) else None
    history = old.get("history")
    state["history"] = [
        m
        for m in (history if isinstance(history, list) else [])
        if isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("text"), str)
    ]
    raw_stage = old.get("stage")
    stage: str = raw_stage if isinstance(raw_stage, str) and raw_stage in _V1_STAGES else "complaint"
    reached = _V1_ORDER.index(stage)
    before = set(_V1_ORDER[:reached])  # stages already answered
    raw_collected = old.get("collected")
    collected: dict[str, Any] = raw_collected if isinstance(raw_collected, dict) else {}
    new = state["collected"]
    complaint = collected.get("chief_complaint")
    new["chief_complaint"] = complaint if isinstance(complaint, str) and complaint else None
    duration = collected.get("duration")
    if isinstance(duration, str) and duration.strip():
        new["duration"] = {"text": duration.strip()[:60], "days": None}
    severity = collected.get("severity")
    if isinstance(severity, int) and not isinstance(severity, bool) and 0 <= severity <= 10:
        new["severity"] = {"score": severity, "text": str(severity)}
    for key in ("symptoms", "denied_symptoms"):
        value = collected.get(key)
        new[key] = [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
    age = collected.get("age")
    new["age"] = float(age) if isinstance(age, int | float) and not isinstance(age, bool) else None
    new["sex"] = collected.get("sex") if collected.get("sex") in ("male", "female") else None
    notes = collected.get("notes")
    new["notes"] = notes if isinstance(notes, str) else None
    if stage == "done":
        # Version 1 read "none" as None: once past its history question, None meant "none".
        for key, old_key in (("past_illnesses", "history"), ("allergies", "allergies")):
            value = collected.get(old_key)
            new[key] = [value] if isinstance(value, str) and value else []

    asked: dict[str, int] = {"chief_complaint": 1}
    for slots, stages in (
        (("duration",), {"duration"}),
        (("severity",), {"severity"}),
        (("age", "sex"), {"profile"}),
        (("past_illnesses", "allergies"), {"history"}),
    ):
        if stages & (before | {stage}):
            asked.update(
                dict.fromkeys(slots, 2 if "profile_again" in before | {stage} and "age" in slots else 1)
            )
    state["asked"] = asked
    # What was asked and left empty before the upgrade is not asked again.
    state["unanswered"] = [
        slot
        for slot, stage_name in (
            ("duration", "duration"),
            ("severity", "severity"),
            ("age", "profile"),
            ("sex", "profile"),
        )
        if stage_name in before and new[slot] is None and stage_name != stage
    ]
    asked_symptoms = old.get("asked_symptoms")
    state["asked_symptoms"] = (
        [s for s in asked_symptoms if isinstance(s, str)] if isinstance(asked_symptoms, list) else []
    )
    for symptom in state["asked_symptoms"]:
        asked[f"symptom:{symptom}"] = 1
    pending_symptom = old.get("pending_symptom")
    next_stage = _V1_STAGES[stage]
    if next_stage == "symptoms" and state["asked_symptoms"] and pending_symptom:
        state["pending"] = {"question": "symptoms", "symptom": state["asked_symptoms"][-1]}
    elif next_stage == "symptoms":
        next_stage = "profile"  # between questions: the next one is chosen afresh
        state["pending"] = {"question": "profile", "symptom": None}
    else:
        state["pending"] = {"question": next_stage, "symptom": None} if next_stage != "done" else None
    if next_stage == "history":
        asked["medications"] = 1  # the history question of version 1 did not ask it; asked now once
    state["stage"] = next_stage
    return state
