"""What of the retrieved evidence answers the question: sections, sentences and conditions.

- A disease passage is one field of its record (store/documents.py); the question's intents say
  which fields answer it (symptoms for "有哪些症状"), and passages of other fields step aside.
- A snippet is the passage's sentences that share the most terms with the question, in reading
  order, not its first characters.
- A question may carry a condition (pregnancy, a child, a dose...: conditions.json, reviewed data);
  when no piece of the evidence speaks to it, the answer must say so before anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from backend.core.knowledge.retrieval.analysis import Analyzer
from backend.core.text import Language

SNIPPET_CHARS: Final = 240
# The record fields (section headings of DiseaseRecord.to_document) that answer each intent.
INTENT_SECTIONS: Final[dict[str, tuple[str, ...]]] = {
    "disease_symptom": ("症状",),
    "symptom_disease": ("症状",),
    "disease_cause": ("病因",),
    "disease_complication": ("并发症",),
    "disease_food_recommended": ("宜吃",),
    "disease_food_avoid": ("忌吃",),
    "disease_drug": ("常用药物", "治疗"),
    "drug_disease": ("常用药物", "治疗"),
    "disease_check": ("检查",),
    "check_disease": ("检查",),
    "disease_prevention": ("预防",),
    "disease_course": ("病程",),
    "disease_treatment": ("治疗", "常用药物"),
    "disease_cure_rate": ("治愈情况",),
    "disease_susceptible": ("易感人群",),
    "disease_description": ("概述", "English"),
    "disease_department": ("概述",),
}
_SENTENCE: Final = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]|\.(?=\s|$)|$)")
_PLAIN = Analyzer()  # characters, bigrams and stemmed words: enough to compare a sentence with a question


def wanted_sections(intents: Sequence[str]) -> set[str]:
    return {section for intent in intents for section in INTENT_SECTIONS.get(intent, ())}


def snippet(text: str, question: str, limit: int = SNIPPET_CHARS) -> str:
    """The sentences of `text` most responsive to `question`, in reading order, within `limit`."""
    parts = [s for s in (p.strip() for p in _SENTENCE.findall(text)) if s]
    if not parts:
        return ""
    asked = set(_PLAIN.terms(question))
    scored = []
    for position, sentence in enumerate(parts):
        terms = set(_PLAIN.terms(sentence))
        # Bigrams and words count more than single characters; shorter sentences win ties.
        overlap = sum(2 if len(t) > 1 else 1 for t in terms & asked)
        scored.append((overlap, -len(sentence), position))
    scored.sort(reverse=True)
    chosen: list[int] = []
    used = 0
    best = scored[0][0]
    for overlap, _, position in scored:
        if chosen and overlap * 2 < best:  # only sentences about as responsive as the best
            break
        length = len(parts[position])
        if chosen and used + length > limit:
            continue
        chosen.append(position)
        used += length
    text = " ".join(parts[p] for p in sorted(chosen))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    label: dict[str, str]
    question: tuple[str, ...]
    evidence: tuple[str, ...]

    def in_question(self, text: str) -> bool:
        return _mentions(text, self.question)

    def in_evidence(self, text: str) -> bool:
        return _mentions(text, self.evidence)


def _mentions(text: str, words: Sequence[str]) -> bool:
    lowered = text.lower()
    for word in words:
        if word.isascii():
            if re.search(rf"\b{re.escape(word)}", lowered):
                return True
        elif word in text:
            return True
    return False


@lru_cache(maxsize=1)
def conditions() -> tuple[Condition, ...]:
    """The reviewed condition list; validated on load (every entry has both languages and words)."""
    data = json.loads((Path(__file__).with_name("conditions.json")).read_text(encoding="utf-8"))
    out = []
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        if set(entry["label"]) != {"zh", "en"} or not entry["question"] or not entry["evidence"]:
            raise ValueError(f"conditions.json: {name} needs zh and en labels, question and evidence words")
        out.append(Condition(name, entry["label"], tuple(entry["question"]), tuple(entry["evidence"])))
    return tuple(out)


def unaddressed(question: str, evidence: Sequence[str], drugs: Sequence[str] = ()) -> list[Condition]:
    """The conditions the question carries that no piece of the evidence speaks to.

    When the question names drugs ("儿童发烧可以用阿司匹林吗"), a piece speaks to the condition only if
    it names one of them too: a passage on children's fevers says nothing about aspirin in children."""
    return [
        c
        for c in conditions()
        if c.in_question(question)
        and not any(c.in_evidence(text) and (not drugs or _mentions(text, drugs)) for text in evidence)
    ]


def no_evidence_note(missing: Sequence[Condition], language: Language) -> str:
    labels = [c.label[language] for c in missing]
    if language == "zh":
        return (
            f"知识库中没有关于{'、'.join(labels)}方面的依据，无法就这一点给出回答；"
            "请咨询医生或药师。以下是知识库中与问题相关的其他内容，并未涉及这一点："
        )
    return (
        f"The knowledge base holds no evidence on {', '.join(labels)}, so this point cannot be answered "
        "here; ask a doctor or pharmacist. What it does hold on the rest of the question, which does not "
        "address that point:"
    )
