"""A patient's message as the matcher reads it: normalised, in sentences and clauses, with denials.

* NFKC (full-width letters, digits and punctuation become ASCII, "℃" becomes "°C"), curly
  apostrophes become straight ones, runs of spaces and tabs one space, then casefolding.
* Sentences end at 。！？!? and line breaks, clauses also at ，,;；. A "." ends both unless it stands
  between digits (发烧38.5度).
* A hit is denied when a negation cue stands before it in its clause with at most three filler
  words in between ("没有感到任何胸痛", "I don't have any chest pain"), or with a list of other
  items joined by the list separators ("无胸痛、胸闷", "no fever or chest pain"). Any other word in
  between cancels the denial: "我不知道是不是胸痛" and "I'm not sure if this is chest pain" still
  fire. Only the text before a hit is read, so terms that carry their own negation ("没呼吸了",
  "not breathing", "叫不醒") work as symptoms. The cues, fillers and separators are data
  (_general.toml).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from backend.patient.services.red_flags.schema import NegationSpec

_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# Line breaks survive: they end sentences.
_WHITESPACE: Final = re.compile(r"[^\S\n]+")
_SENTENCE_BREAK: Final = re.compile(r"[。!?！？\n]|(?<!\d)\.|\.(?!\d)")
_CLAUSE_BREAK: Final = re.compile(r"[,，;；]")
_LATIN: Final = re.compile(r"[a-z]")
_CJK: Final = re.compile(r"[\u3400-\u9fff]")
# A listed item in a denial: a few words that contain no turn such as "但" or "but".
_ZH_ITEM: Final = r"(?:(?!但|却|可是|不过|只是|就是)[\u3400-\u9fff]){1,8}"
_EN_ITEM: Final = r"(?:(?!but\b|however\b)[a-z']+ ){0,3}(?!but\b|however\b)[a-z']+"


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _WHITESPACE.sub(" ", text).casefold()


@dataclass(frozen=True, slots=True)
class Clause:
    sentence: int  # index of the sentence the clause is in
    text: str
    latin: bool  # holds Latin letters: English patterns need to run
    cjk: bool  # holds Chinese characters: Chinese patterns need to run


def clauses(text: str) -> list[Clause]:
    """The clauses of a message, each with the index of its sentence."""
    found = []
    sentences = (part for part in _SENTENCE_BREAK.split(normalise(text)) if part.strip())
    for index, sentence in enumerate(sentences):
        for part in _CLAUSE_BREAK.split(sentence):
            if part := part.strip():
                found.append(Clause(index, part, bool(_LATIN.search(part)), bool(_CJK.search(part))))
    return found


class Negation:
    """Whether the text before a hit, within its clause, is a denial of it."""

    def __init__(self, spec: NegationSpec) -> None:
        self._zh = self._compile(spec.zh_cues, spec.zh_fillers, spec.zh_list_separators, _ZH_ITEM, "")
        # ASCII-only boundaries: `\b` would take Chinese characters as word characters and miss
        # English typed straight after Chinese ("没有chest pain").
        self._en = self._compile(
            tuple(rf"(?<![a-z0-9'])(?:{cue})" for cue in spec.en_cues),
            spec.en_fillers,
            tuple(rf"(?<![a-z])(?:{separator})(?![a-z])" for separator in spec.en_list_separators),
            _EN_ITEM,
            " ",
        )

    @staticmethod
    def _compile(
        cues: tuple[str, ...], fillers: tuple[str, ...], separators: tuple[str, ...], item: str, gap: str
    ) -> re.Pattern[str]:
        cue = "|".join(f"(?:{pattern})" for pattern in cues)
        filler = "|".join(f"(?:{pattern})" for pattern in fillers)
        space = r"\s*" if not gap else r"\s+"
        fill = rf"(?:{space}(?:{filler})){{0,3}}"
        listed = ""
        if separators:
            separator = "|".join(f"(?:{pattern})" for pattern in separators)
            listed = rf"(?:\s*{item}\s*(?:{separator}){fill})*"
        return re.compile(rf"(?:{cue}){fill}{listed}\s*\Z")

    def denies(self, before: str) -> bool:
        # Both languages are checked: patients mix them ("没有 chest pain").
        return bool(self._zh.search(before) or self._en.search(before))
