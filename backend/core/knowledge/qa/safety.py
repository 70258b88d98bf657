"""Patient-facing text never gives drug doses: a doctor decides dosing with the patient in front of them.

The knowledge base may hold dosing (imported tables, guidelines for doctors); the patient pipeline
drops drug facts already, and this filter removes any sentence that still states an amount of a
medicine, in Chinese or English, so an extractive answer or a model's answer cannot pass one on.
"""

from __future__ import annotations

import re

from backend.core.knowledge.graph.diseases import SECTIONS

_DOSE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:mg|mcg|μg|µg|g|ml|mL|iu|IU|u|U|毫克|微克|克|毫升|国际单位|单位|片|粒|丸|袋|支|滴|喷)"
    r"(?![a-zA-Z])"
    r"|(?:每日|每天|一日|一天|每次|每晚)\s*[\d一二三四两]+\s*(?:次|片|粒|丸|袋)"
    r"|\b(?:once|twice|three times|\d+ times) (?:a|per) day\b"
    r"|\b(?:q\.?d|b\.?i\.?d|t\.?i\.?d|q\.?i\.?d|qhs|prn)\b\.?"
    r"|\bdos(?:e|age|ing)\b|剂量|用量",
    re.IGNORECASE,
)
# A sentence ends at Chinese or English end punctuation (a full stop only before a space, so "2.5"
# stays whole) or at a line break: a list item on its own line is a sentence too.
_SENTENCE = re.compile(r".+?(?:[。！？!?；;\n]|\.(?=\s)|$)", re.DOTALL)
REMOVED = {"zh": "（具体用药及剂量请遵医嘱）", "en": "(ask your doctor about medicines and doses)"}


# The drug section of a disease document ("常用药物：甲；乙"), up to the next section heading.
_HEADINGS = "|".join(heading for _, heading in SECTIONS if heading != "常用药物")
_DRUG_SECTION = re.compile(rf"常用药物：.*?(?=(?:{_HEADINGS})：|\n|$)", re.DOTALL)


def without_drug_lists(text: str) -> str:
    """The text without the drug section of disease documents: which medicine is a doctor's call."""
    return _DRUG_SECTION.sub("", text)


def has_dose(text: str) -> bool:
    return _DOSE.search(text) is not None


def without_doses(text: str, language: str = "zh") -> str:
    """The text with every sentence that states a dose replaced by one note to ask the doctor."""
    if not has_dose(text):
        return text
    parts: list[str] = []
    noted = False
    for sentence in _SENTENCE.findall(text):
        if has_dose(sentence):
            if not noted:
                # Keep the sentence's surrounding whitespace, so the text around it still reads.
                lead = sentence[: len(sentence) - len(sentence.lstrip())]
                tail = "\n" if sentence.endswith("\n") else ""
                parts.append(lead + REMOVED["en" if language == "en" else "zh"] + tail)
                noted = True
            continue
        parts.append(sentence)
    return "".join(parts).strip()
