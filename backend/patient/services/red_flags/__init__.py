"""Red flags: what in a patient's message means "go to the emergency department now".

The patient service runs this before anything else answers: when a message describes a possible
emergency, the patient is told to call 120 at once, whatever the rest of the pipeline says. The
clinical rules are data, not code: backend/patient/rules/red_flags/*.toml, one file per class of
emergency, which clinicians read, review and change (README "Red flags"). They are keyword and
pattern rules rather than a model so that they can be audited, behave the same every time and
never wait on a network call.

Safety comes before precision, so when unsure a rule fires. Accepted on purpose:
* a denial placed after the term ("胸痛没有了") is not recognised;
* "never" and "从没" are not negation cues: "I've never had chest pain like this" is pain now;
* hyperbole ("热得想死") and questions ("医生问我有没有胸痛") fire; a disease named as history or in a
  general question ("去年心梗过", "中风有什么症状") does not, but its symptoms always do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from backend.patient.services.red_flags.loader import RULES_DIR, RuleFileError, load_rulebook, rulebook
from backend.patient.services.red_flags.matcher import Language, RedFlag, Rulebook


def detect_red_flags(
    text: str, age_years: float | None = None, *, pregnant: bool | None = None
) -> list[RedFlag]:
    """The red flags in a patient's message, in priority order and each at most once.

    `age_years`, when the caller knows it, counts for the rules about babies and children (a fever
    alone in a baby under three months); `pregnant=True`, when the dialogue knows it, for the rules
    about pregnancy. False or None change nothing: what the message says still counts.
    CPU work (regular expressions): async callers run it in the thread pool.
    """
    return rulebook().detect(text, age_years, pregnant is True)


def general_advice(language: Language) -> str:
    """The advice every emergency starts with: call 120 or go to the nearest emergency department."""
    return rulebook().general_advice[language]


def red_flags() -> tuple[RedFlag, ...]:
    """Every flag the rules know, in priority order."""
    return tuple(flag.flag for flag in rulebook().flags)


def emergency_advice(flags: list[RedFlag], language: Language) -> str:
    """The general emergency advice, then each flag's own advice, one paragraph per line."""
    lines = [general_advice(language)]
    seen: set[str] = set()
    for flag in flags:
        if flag.code in seen:
            continue
        seen.add(flag.code)
        if language == "zh":
            lines.append(f"【{flag.name}】{flag.advice}")
        else:
            lines.append(f"{flag.name_en}: {flag.advice_en}")
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def red_flags_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Compiles the rules when a worker starts: a bad file stops the worker with its message
    instead of failing the first patient's request, and no request pays the compile time."""
    await asyncio.to_thread(rulebook)
    yield


__all__ = [
    "RULES_DIR",
    "Language",
    "RedFlag",
    "RuleFileError",
    "Rulebook",
    "detect_red_flags",
    "emergency_advice",
    "general_advice",
    "load_rulebook",
    "red_flags",
    "red_flags_lifespan",
]
