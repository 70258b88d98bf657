"""The summary a doctor reads: what the patient said, what they denied, what was not asked or not answered.

This is what `POST /sessions/{id}/submit` stores (as JSON, as given). Format 2:

    {"format": 2, "language": "zh",
     "said": {"chief_complaint": "...", "sites": [{"code": "head", "zh": "头部", "en": "head"}],
              "duration": {"text": "三天", "days": 3.0}, "severity": {"score": 7, "text": "挺严重"},
              "symptoms": ["头痛"], "age": 35.0, "sex": "female", "past_illnesses": ["高血压"], ...},
     "denied": {"symptoms": ["发热"], "slots": ["allergies", "pregnant"]},
     "not_answered": {"slots": ["severity"], "symptoms": ["恶心"]},
     "not_asked": ["medications"],
     "conflicting": ["发热"],          # said and denied, in one message or two
     "filled_by_llm": [],            # slots only the language model read
     "names_en": {"头痛": "headache"},  # the symptoms' English names, for the English UI
     "collected": {...},             # the raw slots, as the session holds them
     "triage": {...}, "transcript": [...]}

Older records (format 1, without "format") hold only "collected" with string history and allergies;
the doctor's inbox view reads both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from backend.patient.services.dialogue_rules import rules
from backend.patient.services.questions import pregnancy_applies

SUMMARY_FORMAT: Final = 2
SLOTS: Final = (
    "chief_complaint", "sites", "duration", "severity", "symptoms", "age", "sex", "pregnant", "subject",
    "past_illnesses", "allergies", "medications",
)  # fmt: skip
_NONE_MEANS_DENIED: Final = ("past_illnesses", "allergies", "medications")


def _pregnancy_relevant(collected: dict[str, Any]) -> bool:
    if collected.get("pregnant") is not None:
        return True
    unknown_sex = collected.get("sex") is None and collected.get("subject") != "child"
    return pregnancy_applies(collected) or unknown_sex


def doctor_summary(state: dict[str, Any], name_en: Callable[[str], str]) -> dict[str, Any]:
    collected: dict[str, Any] = state["collected"]
    asked: dict[str, int] = state.get("asked", {})
    unanswered = set(state.get("unanswered", []))
    sites = {site.code: site for site in rules().slots.sites.site}
    said: dict[str, Any] = {}
    denied: list[str] = []
    not_answered: list[str] = []
    not_asked: list[str] = []
    for slot in SLOTS:
        value = collected.get(slot)
        if slot == "pregnant" and not _pregnancy_relevant(collected):
            continue
        if slot == "subject":
            if value is not None:
                said[slot] = value
            continue
        if slot == "sites":
            if value:
                said[slot] = [
                    {"code": code, "zh": sites[code].zh, "en": sites[code].en}
                    for code in value
                    if code in sites
                ]
            continue
        if value is False or (value == [] and slot in _NONE_MEANS_DENIED):
            denied.append(slot)
        elif value not in (None, []):
            said[slot] = value
        elif slot == "symptoms":
            continue  # a complaint without a known symptom is still said: see the chief complaint
        elif slot in unanswered or asked.get(slot):
            not_answered.append(slot)
        else:
            not_asked.append(slot)
    symptoms = [
        *collected.get("symptoms", []),
        *collected.get("denied_symptoms", []),
        *state.get("unanswered_symptoms", []),
    ]
    return {
        "format": SUMMARY_FORMAT,
        "language": state.get("language"),
        "said": said,
        "denied": {"symptoms": list(collected.get("denied_symptoms", [])), "slots": denied},
        "not_answered": {"slots": not_answered, "symptoms": list(state.get("unanswered_symptoms", []))},
        "not_asked": not_asked,
        "conflicting": list(state.get("conflicting", [])),
        "filled_by_llm": list(state.get("filled_by_llm", [])),
        "names_en": {name: english for name in dict.fromkeys(symptoms) if (english := name_en(name))},
        "collected": collected,
    }
