"""The shape of the red-flag data files (backend/patient/rules/red_flags/*.toml).

Pydantic checks each file's structure; the loader then checks what spans files (concept names,
fragments, the order of flags) and compiles the patterns. Every problem is reported with the file
and the rule or concept it is in, never silently skipped: a rule that does not load is a missed
emergency.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Concept, fragment and flag names: lower-case words joined by "_", so that they read well in rules.
NAME = r"^[a-z][a-z0-9_]*$"


class _Spec(BaseModel):
    # A misspelt key ("zh_regexp") must be an error: ignored, it would drop a clinician's terms.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ConceptSpec(_Spec):
    """One clinical idea ("fever", "stiff neck") and the ways patients say it, in both languages."""

    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    zh_regex: tuple[str, ...] = ()
    en_regex: tuple[str, ...] = ()
    # A hit is ignored when one of these words stands at most 4 characters before it, or after it
    # (眼皮 ... 抽搐, 农药 ... 残留, poison ... ivy).
    not_after: tuple[str, ...] = ()
    not_before: tuple[str, ...] = ()
    # Measurements the patient states, in °C (°F is converted), beats a minute and mmHg.
    temperature_at_least: float | None = Field(default=None, ge=35, le=43)
    heart_rate_at_least: int | None = Field(default=None, ge=40, le=300)
    heart_rate_at_most: int | None = Field(default=None, ge=10, le=120)
    # [systolic, diastolic]: either one at or above its number counts.
    blood_pressure_at_least: tuple[int, int] | None = None
    # Ages in years, stated in the message ("两个月大", "5岁", "6-week-old") or known by the caller.
    age_below: float | None = Field(default=None, gt=0, le=130)
    age_at_most: float | None = Field(default=None, gt=0, le=130)
    # Also present when the caller knows the patient is pregnant.
    if_pregnant: bool = False

    @model_validator(mode="after")
    def _says_something(self) -> ConceptSpec:
        if not (self.has_text or self.has_measure or self.is_context):
            raise ValueError("a concept needs terms, patterns, a measurement or an age")
        for field in ("zh", "en", "zh_regex", "en_regex", "not_after", "not_before"):
            if any(not item for item in getattr(self, field)):
                raise ValueError(f"{field} holds an empty entry")
        return self

    @property
    def has_text(self) -> bool:
        return bool(self.zh or self.en or self.zh_regex or self.en_regex)

    @property
    def has_measure(self) -> bool:
        return any(
            value is not None
            for value in (
                self.temperature_at_least,
                self.heart_rate_at_least,
                self.heart_rate_at_most,
                self.blood_pressure_at_least,
            )
        )

    @property
    def is_context(self) -> bool:
        """Whether what the caller knows (age, pregnancy) can make this concept present."""
        return self.age_below is not None or self.age_at_most is not None or self.if_pregnant


# An entry of `all`: one concept, or a list of concepts any one of which will do.
Group = str | tuple[str, ...]


class RuleSpec(_Spec):
    """When a flag fires: on any concept of `any`, or when every entry of `all` is present."""

    why: str = Field(min_length=10, description="the clinical reason, for the reviewer")
    any: tuple[str, ...] = ()
    all: tuple[Group, ...] = ()
    # None of these may be present ("大便发黑" after iron tablets).
    unless: tuple[str, ...] = ()
    # "sentence": the entries of `all` must be present in one sentence ("烫伤了大半个后背").
    within: Literal["message", "sentence"] = "message"

    @model_validator(mode="after")
    def _one_kind(self) -> RuleSpec:
        if bool(self.any) == bool(self.all):
            raise ValueError("a rule has either `any` or `all`, not both and not neither")
        if self.any and self.within != "message":
            raise ValueError("`within` only applies to `all`")
        if any(isinstance(group, tuple) and not group for group in self.all):
            raise ValueError("`all` holds an empty list")
        return self

    def groups(self) -> tuple[tuple[str, ...], ...]:
        """`all` as lists of alternatives (`any` is one list)."""
        if self.any:
            return (self.any,)
        return tuple((group,) if isinstance(group, str) else group for group in self.all)

    def concept_names(self) -> set[str]:
        return {name for group in self.groups() for name in group} | set(self.unless)


class FlagFile(_Spec):
    """One class of emergency: what the patient is told, and the rules that recognise it."""

    code: str = Field(pattern=NAME)
    name: str = Field(min_length=2)
    name_en: str = Field(min_length=2)
    advice: str = Field(min_length=10)
    advice_en: str = Field(min_length=10)
    # Flags this one makes redundant when both fire: its own advice covers theirs.
    replaces: tuple[str, ...] = ()
    rule: tuple[RuleSpec, ...] = Field(min_length=1)
    concepts: dict[str, ConceptSpec] = {}


class SharedFile(_Spec):
    """_shared.toml: concepts that several flag files use."""

    concepts: dict[str, ConceptSpec] = Field(min_length=1)


class NegationSpec(_Spec):
    """How a denial is said: a cue, then at most three fillers, then the symptom."""

    zh_cues: tuple[str, ...] = Field(min_length=1)
    zh_fillers: tuple[str, ...] = Field(min_length=1)
    zh_list_separators: tuple[str, ...] = ()
    en_cues: tuple[str, ...] = Field(min_length=1)
    en_fillers: tuple[str, ...] = Field(min_length=1)
    en_list_separators: tuple[str, ...] = ()


class Advice(_Spec):
    zh: str = Field(min_length=10)
    en: str = Field(min_length=10)


class GeneralFile(_Spec):
    """_general.toml: the advice every emergency starts with, the order of flags, the language."""

    emergency_advice: Advice
    order: tuple[str, ...] = Field(min_length=1)
    negation: NegationSpec
    # Regular-expression pieces used in several patterns as {name}.
    fragments: dict[str, str] = {}
