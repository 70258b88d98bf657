"""The slots of a pre-consultation: what one message says, in one validated schema.

The rule reader (slots.py) and the LLM reader (dialogue_llm.py) both produce a `SlotUpdate`; the
dialogue merges it into the session's `collected` (the same keys, as JSON). `validated` takes
untrusted input (a model's JSON) field by field and item by item: whatever fails validation is
dropped on its own, and the rest is kept.

List slots (past illnesses, allergies, medicines) distinguish three answers: None (unknown),
[] (the patient said there are none) and items in the patient's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from backend.patient.services.dialogue_rules import rules

Sex = Literal["male", "female"]
Answer = Literal["yes", "no", "skip"]
Subject = Literal["self", "child", "relative"]

MAX_ITEMS: Final = 12


def _known_site(code: str) -> str:
    if code not in set(rules().site_codes.values()):
        raise ValueError("unknown body site")
    return code


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
SiteCode = Annotated[str, AfterValidator(_known_site)]


class Duration(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    days: float | None = Field(default=None, gt=0, le=36500)  # None: said only in words ("很久了")


class Severity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    score: int = Field(ge=0, le=10)
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] = ""


class SlotUpdate(BaseModel):
    """What one message says; a field left at its default says nothing."""

    model_config = ConfigDict(extra="ignore")

    chief_complaint: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None
    ) = None
    sites: list[SiteCode] = Field(default_factory=list, max_length=MAX_ITEMS)
    duration: Duration | None = None
    severity: Severity | None = None
    symptoms: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS * 2)
    denied_symptoms: list[Name] = Field(default_factory=list, max_length=MAX_ITEMS * 2)
    age: float | None = Field(default=None, ge=0, le=120)
    sex: Sex | None = None
    pregnant: bool | None = Field(default=None, strict=True)
    subject: Subject | None = None
    past_illnesses: list[Text] | None = Field(default=None, max_length=MAX_ITEMS)
    allergies: list[Text] | None = Field(default=None, max_length=MAX_ITEMS)
    medications: list[Text] | None = Field(default=None, max_length=MAX_ITEMS)


LIST_FIELDS: Final = ("sites", "symptoms", "denied_symptoms", "past_illnesses", "allergies", "medications")
BACKGROUND: Final = ("past_illnesses", "allergies", "medications")

_ITEM_TYPES: Final[dict[str, Any]] = {
    "sites": TypeAdapter(SiteCode),
    "symptoms": TypeAdapter(Name),
    "denied_symptoms": TypeAdapter(Name),
    "past_illnesses": TypeAdapter(Text),
    "allergies": TypeAdapter(Text),
    "medications": TypeAdapter(Text),
}


def validated(raw: object) -> tuple[SlotUpdate, list[str]]:
    """A SlotUpdate from untrusted JSON, and the names of the fields (or items) that were dropped."""
    if not isinstance(raw, dict):
        return SlotUpdate(), ["slots"] if raw is not None else []
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name in SlotUpdate.model_fields:
        if name not in raw or raw[name] is None:
            continue
        value = raw[name]
        if name in LIST_FIELDS:
            if not isinstance(value, list):
                dropped.append(name)
                continue
            items = []
            for item in value[: MAX_ITEMS * 2]:
                try:
                    items.append(_ITEM_TYPES[name].validate_python(item, strict=True))
                except ValidationError:
                    dropped.append(f"{name}[]")
            if items or not value:
                kept[name] = list(dict.fromkeys(items))[:MAX_ITEMS]
            continue
        try:
            kept[name] = getattr(SlotUpdate.model_validate({name: value}), name)
        except ValidationError:
            dropped.append(name)
    return SlotUpdate.model_validate(kept), dropped


def empty_collected() -> dict[str, Any]:
    """The session's `collected` before the patient has said anything."""
    collected: dict[str, Any] = {
        name: ([] if name in ("sites", "symptoms", "denied_symptoms") else None)
        for name in SlotUpdate.model_fields
    }
    collected["notes"] = None
    return collected


@dataclass(frozen=True, slots=True)
class LLMTurn:
    """What a language model read in one message (validated), and its wording of the next question.

    `question` words the question identified by `question_for` (questions.Question.ident): the
    dialogue uses it only if that is still the question it asks once the message is merged.
    """

    update: SlotUpdate
    answer: Answer | None = None
    question: str | None = None
    question_for: str | None = None
