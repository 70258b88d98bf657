"""Where and what: the body sites, organ systems and requests a complaint names (rules/sites.toml).

Terms are matched leftmost-longest in one pass, so "鼻子整形" counts as a cosmetic request and not
also as the nose. An area's strength grows with the number of its distinct terms in the text
(1 - 0.5^n: one term 0.5, two 0.75, ...); a request (a cosmetic procedure, traditional Chinese
medicine) counts one and a half times: what the patient asks for decides where they are seen, but
words such as 调理 or 体质 also come up in passing in internal-medicine questions, where double
sent too many to 中医科 (Toyhom top-1 0.680 at 2.0, 0.686 at 1.5; CMtMedQA unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from backend.core.knowledge.graph.departments import department
from backend.core.rules import load_rules

RULES_PATH = Path(__file__).resolve().parents[1] / "rules" / "sites.toml"
REQUEST_FACTOR = 1.5


class Area(BaseModel):
    code: str = Field(pattern=r"^[a-z_]+$")
    name: str
    name_en: str
    kind: Literal["site", "request"]
    departments: dict[str, float] = Field(min_length=1)
    terms: list[str] = Field(min_length=1)
    # Words that fit the area but also much else (痒, 疼): each counts half a term.
    weak_terms: list[str] = []

    @model_validator(mode="after")
    def _known_departments(self) -> Area:
        unknown = [name for name in self.departments if department(name) is None]
        if unknown:
            raise ValueError(f"area {self.code}: unknown departments {unknown}")
        if any(not term.strip() for term in [*self.terms, *self.weak_terms]):
            raise ValueError(f"area {self.code}: an empty term")
        return self


class SiteRules(BaseModel):
    area: list[Area] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_area_per_term(self) -> SiteRules:
        owner: dict[str, str] = {}
        for area in self.area:
            for term in [*area.terms, *area.weak_terms]:
                key = term.casefold()
                if owner.setdefault(key, area.code) != area.code:
                    raise ValueError(f"term {term!r} is in both {owner[key]} and {area.code}")
        return self


@dataclass(frozen=True, slots=True)
class AreaHit:
    area: Area
    terms: tuple[str, ...]  # distinct terms found, in order
    weight: float  # the number of terms found, weak ones counting half

    @property
    def strength(self) -> float:
        strength: float = 1.0 - 0.5**self.weight
        return strength * (REQUEST_FACTOR if self.area.kind == "request" else 1.0)


@dataclass(frozen=True, slots=True)
class _Matcher:
    pattern: re.Pattern[str]
    owner: dict[str, Area]  # casefolded term -> its area
    weak: frozenset[str]  # casefolded weak terms


@lru_cache(maxsize=1)
def _matcher() -> _Matcher:
    rules = load_rules(RULES_PATH, SiteRules)
    owner = {term.casefold(): area for area in rules.area for term in [*area.terms, *area.weak_terms]}
    weak = frozenset(term.casefold() for area in rules.area for term in area.weak_terms)
    # Longest first: an alternation takes the first alternative that matches at a position.
    parts = [
        rf"(?<![a-z]){re.escape(term)}(?![a-z])" if term.isascii() else re.escape(term)
        for term in sorted(owner, key=len, reverse=True)
    ]
    return _Matcher(re.compile("|".join(parts), re.IGNORECASE), owner, weak)


def find_areas(text: str) -> list[AreaHit]:
    """The areas `text` names, strongest first."""
    matcher = _matcher()
    found: dict[str, list[str]] = {}
    areas: dict[str, Area] = {}
    for match in matcher.pattern.finditer(text):
        term = match.group(0).casefold()
        area = matcher.owner[term]
        areas[area.code] = area
        terms = found.setdefault(area.code, [])
        if term not in terms:
            terms.append(term)
    hits = [
        AreaHit(areas[code], tuple(terms), sum(0.5 if term in matcher.weak else 1.0 for term in terms))
        for code, terms in found.items()
    ]
    return sorted(hits, key=lambda hit: -hit.strength)


def department_weights(hits: list[AreaHit]) -> dict[str, float]:
    """How strongly the areas found point to each department (not normalised)."""
    weights: dict[str, float] = {}
    for hit in hits:
        for name, weight in hit.area.departments.items():
            weights[name] = weights.get(name, 0.0) + hit.strength * weight
    return weights
