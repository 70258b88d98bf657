"""Matching a message against the compiled rules; the loader builds these objects from the files.

A concept is present in a message when one of its terms or patterns has a hit that is not denied,
when a stated measurement passes its threshold, or when what the caller knows (the patient's age,
a pregnancy) satisfies it. Presence is recorded per sentence, so that a rule can ask for its
concepts in one sentence. Nothing here is clinical: the data files say what counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from backend.patient.services.red_flags.measures import Measure, measures
from backend.patient.services.red_flags.schema import ConceptSpec
from backend.patient.services.red_flags.text import Clause, Negation, clauses

Language = Literal["zh", "en"]

# How far before or after a hit a `not_after` / `not_before` word may stand, in characters.
EXCLUSION_GAP = 4


@dataclass(frozen=True, slots=True)
class RedFlag:
    code: str
    name: str
    name_en: str
    advice: str
    advice_en: str


@dataclass(frozen=True, slots=True)
class Concept:
    key: str  # "file:name": names are unique within a file and _shared.toml only
    spec: ConceptSpec
    zh: re.Pattern[str] | None
    en: re.Pattern[str] | None
    # Read from `spec` once: the matcher asks on every message.
    measures: bool = field(init=False)
    ages: bool = field(init=False)

    def __post_init__(self) -> None:
        ages = self.spec.age_below is not None or self.spec.age_at_most is not None
        object.__setattr__(self, "ages", ages)
        object.__setattr__(self, "measures", self.spec.has_measure or ages)

    def excluded(self, clause: str, start: int, end: int) -> bool:
        before, after = clause[:start], clause[end:]
        return any(word in before[-(len(word) + EXCLUSION_GAP) :] for word in self.spec.not_after) or any(
            word in after[: len(word) + EXCLUSION_GAP] for word in self.spec.not_before
        )

    def measured(self, measure: Measure) -> bool:
        spec = self.spec
        if measure.kind == "temperature":
            return spec.temperature_at_least is not None and measure.value >= spec.temperature_at_least
        if measure.kind == "heart_rate":
            return (spec.heart_rate_at_least is not None and measure.value >= spec.heart_rate_at_least) or (
                spec.heart_rate_at_most is not None and measure.value <= spec.heart_rate_at_most
            )
        if measure.kind in ("systolic", "diastolic"):
            if spec.blood_pressure_at_least is None:
                return False
            systolic, diastolic = spec.blood_pressure_at_least
            return measure.value >= (systolic if measure.kind == "systolic" else diastolic)
        return self.of_age(measure.value)

    def of_age(self, years: float) -> bool:
        if not self.ages:
            return False
        spec = self.spec
        below = spec.age_below is None or years < spec.age_below
        at_most = spec.age_at_most is None or years <= spec.age_at_most
        return below and at_most


@dataclass(frozen=True, slots=True)
class Rule:
    # Every group needs one of its concepts present; `any` rules have one group.
    groups: tuple[tuple[Concept, ...], ...]
    unless: tuple[Concept, ...]
    within_sentence: bool

    def fires(self, message: Message) -> bool:
        present = []
        for group in self.groups:
            sentences = message.present(group[0])
            for concept in group[1:]:
                sentences = sentences | message.present(concept)
            if not sentences:
                return False
            present.append(sentences)
        if self.within_sentence and not frozenset.intersection(*present):
            return False
        return all(not message.present(concept) for concept in self.unless)


@dataclass(frozen=True, slots=True)
class Flag:
    flag: RedFlag
    rules: tuple[Rule, ...]
    replaces: frozenset[str]


_EMPTY: frozenset[int] = frozenset()


def _candidate(pattern: re.Pattern[str] | None, text: str) -> re.Pattern[str] | None:
    """`pattern` if it has a hit somewhere in `text` (to be checked clause by clause), else None."""
    return pattern if pattern is not None and text and pattern.search(text) else None


class Message:
    """One message being matched: its clauses, what the caller knows, and what was found so far."""

    __slots__ = (
        "_measures",
        "_present",
        "age_years",
        "clauses",
        "en_text",
        "negation",
        "pregnant",
        "sentences",
        "zh_text",
    )

    def __init__(
        self, clauses: list[Clause], negation: Negation, age_years: float | None, pregnant: bool
    ) -> None:
        self.clauses = clauses
        self.negation = negation
        self.age_years = age_years
        self.pregnant = pregnant
        self.sentences = frozenset(clause.sentence for clause in clauses)
        # Each language's clauses in one string: most concepts are absent from most messages, and one
        # search over the whole message says so at the cost of a single call. Joined with a line
        # break, which no pattern crosses meaningfully, so a hit there is then checked clause by clause.
        self.zh_text = "\n".join(clause.text for clause in clauses if clause.cjk)
        self.en_text = "\n".join(clause.text for clause in clauses if clause.latin)
        self._present: dict[str, frozenset[int]] = {}
        self._measures: list[tuple[Clause, Measure]] | None = None

    def present(self, concept: Concept) -> frozenset[int]:
        """The sentences in which `concept` is present (all of them when the caller's facts say so)."""
        found = self._present.get(concept.key)
        if found is None:
            found = self._find(concept)
            self._present[concept.key] = found
        return found

    def _find(self, concept: Concept) -> frozenset[int]:
        if (concept.spec.if_pregnant and self.pregnant) or (
            self.age_years is not None and concept.of_age(self.age_years)
        ):
            return self.sentences
        zh = _candidate(concept.zh, self.zh_text)
        en = _candidate(concept.en, self.en_text)
        if zh is None and en is None and not concept.measures:
            return _EMPTY
        found: set[int] = set()
        if zh is not None or en is not None:
            for clause in self.clauses:
                if clause.sentence in found:
                    continue
                if (zh is not None and clause.cjk and self._hit(concept, zh, clause.text)) or (
                    en is not None and clause.latin and self._hit(concept, en, clause.text)
                ):
                    found.add(clause.sentence)
        if concept.measures:
            for clause, measure in self._all_measures():
                if concept.measured(measure) and not self.negation.denies(clause.text[: measure.start]):
                    found.add(clause.sentence)
        return frozenset(found) if found else _EMPTY

    def _hit(self, concept: Concept, pattern: re.Pattern[str], text: str) -> bool:
        for match in pattern.finditer(text):
            if concept.excluded(text, match.start(), match.end()):
                continue
            if not self.negation.denies(text[: match.start()]):
                return True
        return False

    def _all_measures(self) -> list[tuple[Clause, Measure]]:
        if self._measures is None:
            self._measures = [(clause, found) for clause in self.clauses for found in measures(clause.text)]
        return self._measures


@dataclass(frozen=True, slots=True)
class Rulebook:
    """Every flag in its order of priority, and the advice every emergency starts with."""

    flags: tuple[Flag, ...]
    general_advice: dict[Language, str]
    negation: Negation

    def detect(self, text: str, age_years: float | None, pregnant: bool) -> list[RedFlag]:
        message = Message(clauses(text), self.negation, age_years, pregnant)
        if not message.clauses:
            return []
        fired = [flag for flag in self.flags if any(rule.fires(message) for rule in flag.rules)]
        replaced = frozenset[str]().union(*(flag.replaces for flag in fired))
        return [flag.flag for flag in fired if flag.flag.code not in replaced]
