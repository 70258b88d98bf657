"""The pre-consultation's reviewed rule files, validated and compiled once per process.

rules/answers.toml (yes, no, skip in the patient's words), rules/slots.toml (duration, severity,
body sites, denials, past illnesses, allergies, medicines) and rules/questions.toml (what the
assistant says). A bad file (a typo in a key, a regular expression that does not compile, a question
without its placeholder) stops with one message naming the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from backend.core.rules import load_rules
from backend.core.text import Language
from backend.patient.services.wordlists import alternation, any_pattern, word_pattern

RULES_DIR: Final = Path(__file__).resolve().parents[1] / "rules"


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


Word = Annotated[str, StringConstraints(min_length=1, max_length=80)]
Regex = Annotated[str, StringConstraints(min_length=1), AfterValidator(_compiles)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerRules(_Strict):
    fillers: list[Word]
    neutral: list[Word]
    skip: list[Word]
    no: list[Word]
    yes: list[Word]
    well: list[Word]
    greetings: list[Word]


class DurationUnit(_Strict):
    days: float = Field(gt=0)
    words: list[Word] = Field(min_length=1)


class DurationRules(_Strict):
    units: list[DurationUnit] = Field(min_length=1)
    not_after_patterns: list[Regex]
    not_before_patterns: list[Regex]
    amounts: dict[Word, float]
    phrases: dict[Word, Annotated[float, Field(gt=0)]]
    answer_only: list[Word]


class SeverityLevel(_Strict):
    score: int = Field(ge=0, le=10)
    anywhere: list[Word]
    answer: list[Word]


class SeverityRules(_Strict):
    score_units: list[Word] = Field(min_length=1)
    not_before_patterns: list[Regex]
    not_after_patterns: list[Regex]
    levels: list[SeverityLevel] = Field(min_length=1)


class Site(_Strict):
    code: str = Field(pattern=r"^[a-z_]{2,20}$")
    zh: Word
    en: Word
    words: list[Word] = Field(min_length=1)


class SiteRules(_Strict):
    not_sites: list[Word]
    site: list[Site] = Field(min_length=1)

    @field_validator("site")
    @classmethod
    def _unique(cls, sites: list[Site]) -> list[Site]:
        codes = [site.code for site in sites]
        if len(codes) != len(set(codes)):
            raise ValueError("site codes must be unique")
        return sites


class NegationRules(_Strict):
    zh_cues: list[Word] = Field(min_length=1)
    zh_fillers: list[Word]
    en_cues: list[Word] = Field(min_length=1)
    en_fillers: list[Word]
    conjunctions: list[Word]
    after_patterns: list[Regex]
    not_cue_patterns: list[Regex]


class BackgroundRules(_Strict):
    allergy_patterns: list[Regex] = Field(min_length=1)
    allergy_denials: list[Word]
    allergen_patterns: list[Regex]
    medication_strong_cues: list[Word]
    medication_cues: list[Word]
    not_medicine_patterns: list[Regex]
    medicine_words: list[Word]
    medication_denials: list[Word]
    history_cues: list[Word]
    history_prefixes: list[Word]
    history_after_patterns: list[Regex]
    history_not_cues: list[Word]
    surgery_patterns: list[Regex]
    history_denials: list[Word]

    @field_validator("allergen_patterns", "surgery_patterns")
    @classmethod
    def _one_group(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if re.compile(pattern).groups != 1:
                raise ValueError(f"{pattern!r} must capture exactly one group: the item")
        return patterns


class SlotRules(_Strict):
    duration: DurationRules
    severity: SeverityRules
    sites: SiteRules
    negation: NegationRules
    background: BackgroundRules


class Wording(_Strict):
    zh: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    zh_again: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    en_again: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None

    def text(self, language: Language, again: bool = False) -> str:
        if again:
            repeat = self.zh_again if language == "zh" else self.en_again
            if repeat:
                return repeat
        return self.zh if language == "zh" else self.en


class QuestionRules(_Strict):
    greeting: Wording
    complaint: Wording
    well: Wording
    unreadable: Wording
    duration: Wording
    severity: Wording
    symptom: Wording
    profile: Wording
    age: Wording
    sex: Wording
    pregnancy: Wording
    history: Wording
    past_illnesses: Wording
    past_illnesses_details: Wording
    allergies: Wording
    allergies_details: Wording
    medications: Wording
    medications_details: Wording
    done: Wording
    suggested: Wording

    @field_validator("symptom", "suggested")
    @classmethod
    def _placeholder(cls, wording: Wording, info: object) -> Wording:
        name = "{symptom}" if getattr(info, "field_name", "") == "symptom" else "{departments}"
        for text in (wording.zh, wording.en, wording.zh_again, wording.en_again):
            if text is not None and name not in text:
                raise ValueError(f"every wording must hold {name}")
        return wording


@dataclass(frozen=True, slots=True)
class Compiled:
    """The rules as patterns, built once: see slots.py for how each is used."""

    answers: AnswerRules
    slots: SlotRules
    questions: QuestionRules
    # Answer lists, matched at the start of an answer.
    fillers: re.Pattern[str]
    starts: dict[str, re.Pattern[str]]  # neutral, skip, no, yes
    well: re.Pattern[str]
    greeting_only: re.Pattern[str]
    # Duration.
    duration: re.Pattern[str]
    duration_phrases: re.Pattern[str]
    duration_answer_only: re.Pattern[str]
    duration_not_after: re.Pattern[str]
    duration_not_before: re.Pattern[str]
    unit_days: dict[str, float]  # lower-cased unit word -> days
    # Severity.
    severity_anywhere: re.Pattern[str]
    severity_answer: re.Pattern[str]
    severity_scores: dict[str, int]  # lower-cased word -> score; answer words after anywhere ones
    score_units: str  # regex alternation
    severity_not_before: re.Pattern[str]
    severity_not_after: re.Pattern[str]
    # Sites.
    sites: re.Pattern[str]
    site_codes: dict[str, str]  # lower-cased word -> code
    not_sites: re.Pattern[str]
    # Negation.
    zh_negated: re.Pattern[str]  # matches the end of the text before a symptom
    en_negated: re.Pattern[str]
    conjunction_only: re.Pattern[str]
    negated_after: re.Pattern[str]
    not_cue: re.Pattern[str]
    # Background.
    allergy: re.Pattern[str]
    allergy_denial: re.Pattern[str]
    allergens: tuple[re.Pattern[str], ...]
    medication_strong_cue: re.Pattern[str]
    medication_cue: re.Pattern[str]
    medicine_word: re.Pattern[str]
    not_medicine: re.Pattern[str]
    medication_denial: re.Pattern[str]
    history_cue: re.Pattern[str]
    history_prefix: re.Pattern[str]  # matches the end of the text before a disease
    history_after: re.Pattern[str]  # matches the start of the text after a disease
    history_not_cue: re.Pattern[str]
    surgeries: tuple[re.Pattern[str], ...]
    history_denial: re.Pattern[str]


EN_NUMBER_WORDS: Final = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
_EN_NUMBERS: Final = alternation(EN_NUMBER_WORDS)


def _at_end(words: list[str], fillers: list[str], separator: str) -> re.Pattern[str]:
    """Text that ends in one of `words` followed by up to three `fillers`."""
    filler = alternation(fillers)
    return re.compile(
        rf"(?:{alternation(words)})(?:{separator}(?:{filler})){{0,3}}{separator}\Z", re.IGNORECASE
    )


def _starting(words: list[str]) -> re.Pattern[str]:
    return re.compile(rf"\A(?:{alternation(words)})", re.IGNORECASE)


@lru_cache(maxsize=1)
def rules() -> Compiled:
    answers = load_rules(RULES_DIR / "answers.toml", AnswerRules)
    slots = load_rules(RULES_DIR / "slots.toml", SlotRules)
    questions = load_rules(RULES_DIR / "questions.toml", QuestionRules)
    duration, severity, negation, background = (
        slots.duration,
        slots.severity,
        slots.negation,
        slots.background,
    )

    unit_days = {word.lower(): unit.days for unit in duration.units for word in unit.words}
    number = rf"\d{{1,4}}(?:\.\d+)?|[一二两三四五六七八九十百]{{1,3}}|{_EN_NUMBERS}"
    amounts = alternation(duration.amounts)
    units = alternation(unit_days)
    duration_pattern = re.compile(
        rf"(?P<num>{amounts}|{number})\s*(?P<more>多|余|来|\+)?\s*个?\s*(?P<more2>多)?\s*(?P<half>半)?"
        rf"\s*(?:more\s+)?(?P<unit>{units})(?P<after>多|半)?",
        re.IGNORECASE,
    )
    scores: dict[str, int] = {}
    for level in severity.levels:
        for word in level.anywhere:
            scores.setdefault(word.lower(), level.score)
    for level in severity.levels:
        for word in level.answer:
            scores.setdefault(word.lower(), level.score)
    site_codes = {word.lower(): site.code for site in slots.sites.site for word in site.words}
    return Compiled(
        answers=answers,
        slots=slots,
        questions=questions,
        fillers=_starting(answers.fillers),
        starts={
            "neutral": _starting(answers.neutral),
            "skip": _starting(answers.skip),
            "no": _starting(answers.no),
            "yes": _starting(answers.yes),
        },
        well=word_pattern(answers.well),
        greeting_only=re.compile(
            rf"\A(?:(?:{alternation(answers.greetings)})[\s,，.。!！~～?？、]*)+\Z", re.IGNORECASE
        ),
        duration=duration_pattern,
        duration_phrases=word_pattern(duration.phrases),
        duration_answer_only=word_pattern(duration.answer_only),
        duration_not_after=re.compile(rf"\A(?:{'|'.join(duration.not_after_patterns)})", re.IGNORECASE),
        duration_not_before=re.compile(rf"(?:{'|'.join(duration.not_before_patterns)})\Z", re.IGNORECASE),
        unit_days=unit_days,
        severity_anywhere=word_pattern(w for level in severity.levels for w in level.anywhere),
        severity_answer=word_pattern(
            w for level in severity.levels for w in (*level.anywhere, *level.answer)
        ),
        severity_scores=scores,
        score_units=alternation(severity.score_units),
        severity_not_before=re.compile(rf"(?:{'|'.join(severity.not_before_patterns)})\Z", re.IGNORECASE),
        severity_not_after=re.compile(rf"\A(?:{'|'.join(severity.not_after_patterns)})", re.IGNORECASE),
        sites=word_pattern(site_codes),
        site_codes=site_codes,
        not_sites=word_pattern(slots.sites.not_sites),
        zh_negated=_at_end(negation.zh_cues, negation.zh_fillers, ""),
        en_negated=_at_end(negation.en_cues, negation.en_fillers, r"\s*"),
        conjunction_only=re.compile(
            rf"\A[\s,]*(?:{alternation(negation.conjunctions)})?[\s,]*\Z", re.IGNORECASE
        ),
        negated_after=any_pattern(negation.after_patterns),
        not_cue=re.compile(rf"(?:{'|'.join(negation.not_cue_patterns)})", re.IGNORECASE),
        allergy=any_pattern(background.allergy_patterns),
        allergy_denial=word_pattern(background.allergy_denials),
        allergens=tuple(re.compile(p, re.IGNORECASE) for p in background.allergen_patterns),
        medication_strong_cue=word_pattern(background.medication_strong_cues),
        medication_cue=word_pattern([*background.medication_cues, *background.medication_strong_cues]),
        medicine_word=word_pattern(background.medicine_words),
        not_medicine=re.compile(rf"\A(?:{'|'.join(background.not_medicine_patterns)})", re.IGNORECASE),
        medication_denial=word_pattern(background.medication_denials),
        history_cue=word_pattern(background.history_cues),
        history_prefix=re.compile(rf"(?:{alternation(background.history_prefixes)})\s*\Z", re.IGNORECASE),
        history_after=any_pattern(background.history_after_patterns),
        history_not_cue=word_pattern(background.history_not_cues),
        surgeries=tuple(re.compile(p, re.IGNORECASE) for p in background.surgery_patterns),
        history_denial=word_pattern(background.history_denials),
    )
