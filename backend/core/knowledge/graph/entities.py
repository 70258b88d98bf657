"""Entity extraction: every graph entity name and alias found in a text, in one Aho-Corasick pass.

The automaton is built over folded keys (full-width forms as ASCII, lower case), so a question is
scanned once whatever the size of the graph; each key carries its candidates (entity, and the exact
spelling when case matters). Matches are then filtered (word boundaries, exact case for acronyms) and
overlaps resolved: longer first, then earlier.

Patients write "肚子一直疼" and "头有点晕" as often as 肚子疼 and 头晕. The degree words of
degree_words.toml (how much, how often; never a negation) are taken out where they sit between two
Chinese characters and that text is scanned too: a match it finds across a removed word counts,
spanning the words as written ("肚子一直疼" names 腹痛).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import ahocorasick
from pydantic import BaseModel, Field, field_validator

from backend.core.knowledge.graph.graph import (
    ENTITY_TYPES,
    Entity,
    EntityType,
    KnowledgeGraph,
    fold_width,
    lower_same_length,
)
from backend.core.rules import load_rules

DEGREE_WORDS_PATH: Final = Path(__file__).with_name("degree_words.toml")
_NEGATIONS: Final = "不没无未"

# When one surface names several entities, the first type here wins: a question naming 痤疮 asks
# about the disease, and a complication that is also a symptom is most useful as the symptom.
_PREFERENCE: Final[tuple[EntityType, ...]] = (
    "disease", "symptom", "drug", "check", "department", "food", "complication",
)  # fmt: skip
TYPE_PRIORITY: Final[dict[EntityType, int]] = {t: _PREFERENCE.index(t) for t in ENTITY_TYPES}

_CJK_START: Final = 0x2E80
# Acronyms such as AIDS, CAP, PID or AD are also ordinary words in lower case ("hearing aids", "knee
# cap"), so short ones match only as written. Longer ones (COVID, NAFLD) are not words, and people
# type them in lower case.
_ACRONYM = re.compile(r"[A-Za-z0-9/&+.-]+")
_ACRONYM_MAX_LETTERS: Final = 4
_MIN_ENGLISH_LETTERS: Final = 3


@dataclass(frozen=True, slots=True)
class ExtractedEntity:
    name: str  # canonical name (the Chinese name for diseases and symptoms)
    type: EntityType
    surface: str  # the text as written in the question
    start: int
    end: int  # exclusive, so surface == text[start:end]
    id: str = ""  # the disease id, for diseases


# Candidates and keys are plain tuples: the build makes ~100k of each, and creating named tuples or
# dataclasses took a third of it.
# (name, type, disease id, exact): `exact` is the spelling required, or None when any case matches.
_Candidate = tuple[str, EntityType, str, str | None]
# (length, candidates best first, word_start, word_end, plural): word_start / word_end when the key
# begins / ends with a letter or digit, so the text must not continue a word there; plural when it is an
# English word that also matches with -s / -es.
_Key = tuple[int, tuple[_Candidate, ...], bool, bool, bool]


def _is_word_char(ch: str) -> bool:
    # Letters and digits of alphabetic scripts; Chinese text has no spaces, so CJK never bounds a word.
    return ch.isalnum() and ord(ch) < _CJK_START


_NOT_LETTER: Final = re.compile(r"[\W\d_]")
_CJK: Final = re.compile(f"[{chr(_CJK_START)}-\U0010ffff]")


def _acronym(form: str) -> bool:
    if not _ACRONYM.fullmatch(form):
        return False
    letters = [ch for ch in form if ch.isalpha()]
    upper = sum(1 for ch in letters if ch.isupper())
    return upper >= 2 and upper * 2 >= len(letters) and len(letters) <= _ACRONYM_MAX_LETTERS


def _exact_form(form: str) -> tuple[bool, str | None]:
    """Whether a name is matchable, and the spelling required (None: any case)."""
    if _CJK.search(form):
        # A single character (疖, 痔) is part of too many words to mean the entity.
        return len(form) >= 2, None
    if _acronym(form):
        return True, form
    return len(_NOT_LETTER.sub("", form)) >= _MIN_ENGLISH_LETTERS, None


def _forms(entity: Entity) -> list[tuple[int, str]]:
    """(rank, form): the name before the English name before aliases, for ties between entities."""
    forms = [(0, entity.name)]
    if entity.name_en:
        forms.append((1, entity.name_en))
    forms.extend((2, alias) for alias in entity.aliases)
    return forms


class EntityExtractor:
    """Finds graph entities in text. Immutable after `build()`; safe to share between threads."""

    def __init__(self, automaton: Any, name_count: int) -> None:
        self._automaton = automaton
        self.name_count = name_count  # distinct names and aliases matched (after folding case and width)

    @classmethod
    def build(cls, graph: KnowledgeGraph) -> EntityExtractor:
        degree_pattern()  # a bad rule file stops the start, not the first question
        # key -> candidate -> sort key; a candidate reached by two forms keeps its best.
        ranked: dict[str, dict[_Candidate, tuple[int, int, int]]] = {}
        order = 0
        for entity in graph.entities():
            priority = TYPE_PRIORITY[entity.type]
            for rank, raw in _forms(entity):
                form = fold_width(raw.strip())
                usable, exact = _exact_form(form)
                if usable:
                    candidate: _Candidate = (entity.name, entity.type, entity.id, exact)
                    ranked.setdefault(lower_same_length(form), {}).setdefault(
                        candidate, (priority, rank, order)
                    )
                    order += 1
        automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for key, entries in ranked.items():
            candidates = (
                tuple(entries) if len(entries) == 1 else tuple(sorted(entries, key=entries.__getitem__))
            )
            plural = key.isascii() and key[-1].isalpha() and all(c[3] is None for c in candidates)
            value: _Key = (len(key), candidates, _is_word_char(key[0]), _is_word_char(key[-1]), plural)
            automaton.add_word(key, value)
        if len(automaton) == 0:
            # An automaton without words cannot be finalised; one key no text contains stands in.
            automaton.add_word("\x00\x00", (2, (), False, False, False))
        automaton.make_automaton()
        return cls(automaton, len(ranked))

    def extract(self, text: str) -> list[ExtractedEntity]:
        """The entities named in `text`, non-overlapping, in order of position."""
        if not text:
            return []
        folded = fold_width(text)
        size = len(text)
        found = self._scan(folded)
        squeezed = _squeezed(folded)
        if squeezed is not None:
            short, origin = squeezed
            for start, end, candidate in self._scan(short):
                first, last = origin[start], origin[end - 1]
                if last - first + 1 != end - start:  # across a degree word: not found above
                    found.append((first, last + 1, candidate))
        # Longest first, then earliest; a match is kept when none of its characters is taken yet.
        found.sort(key=lambda match: (match[0] - match[1], match[0]))
        taken = bytearray(size)
        kept: list[tuple[int, int, _Candidate]] = []
        for start, end, candidate in found:
            if taken.find(1, start, end) == -1:
                taken[start:end] = b"\x01" * (end - start)
                kept.append((start, end, candidate))
        kept.sort(key=lambda match: match[0])
        return [ExtractedEntity(name, kind, text[s:e], s, e, id_) for s, e, (name, kind, id_, _) in kept]

    def _scan(self, folded: str) -> list[tuple[int, int, _Candidate]]:
        """(start, end, candidate) of every key in `folded`, before overlaps are resolved."""
        lowered = lower_same_length(folded)
        size = len(folded)
        found: list[tuple[int, int, _Candidate]] = []
        for last, (length, candidates, word_start, word_end, plural) in self._automaton.iter(lowered):
            start, end = last - length + 1, last + 1
            if word_start and start > 0 and _is_word_char(lowered[start - 1]):
                continue
            if word_end and end < size and _is_word_char(lowered[end]):
                if not plural:
                    continue
                end = _plural_end(lowered, end)
                if end < 0:
                    continue
            for candidate in candidates:
                exact = candidate[3]
                if exact is None or folded[start : start + length] == exact:
                    found.append((start, end, candidate))
                    break
        return found


def _plural_end(lowered: str, end: int) -> int:
    """The end of "<word>s" / "<word>es" at `end`, or -1 when the word goes on otherwise."""
    for suffix in ("s", "es"):
        after = end + len(suffix)
        if lowered.startswith(suffix, end) and (after == len(lowered) or not _is_word_char(lowered[after])):
            return after
    return -1


class DegreeWords(BaseModel):
    words: list[str] = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _plain_degree_words(cls, words: list[str]) -> list[str]:
        for word in words:
            if not word or not all(_CJK.match(ch) for ch in word):
                raise ValueError(f"{word!r}: Chinese characters only")
            if any(ch in _NEGATIONS for ch in word):
                raise ValueError(f"{word!r}: a negation changes what is said, it is no degree word")
        if len(set(words)) != len(words):
            raise ValueError("a word is listed twice")
        return words


@lru_cache(maxsize=1)
def degree_pattern() -> re.Pattern[str]:
    """One or more degree words between two Chinese characters (longest words first)."""
    words = sorted(load_rules(DEGREE_WORDS_PATH, DegreeWords).words, key=len, reverse=True)
    cjk = _CJK.pattern
    return re.compile(f"(?<={cjk})(?:{'|'.join(map(re.escape, words))})+(?={cjk})")


def _squeezed(text: str) -> tuple[str, list[int]] | None:
    """`text` without its degree words, and each kept character's index in `text`; None if none."""
    matches = list(degree_pattern().finditer(text))
    if not matches:
        return None
    kept: list[int] = []
    previous = 0
    for match in matches:
        kept.extend(range(previous, match.start()))
        previous = match.end()
    kept.extend(range(previous, len(text)))
    return "".join(text[i] for i in kept), kept
