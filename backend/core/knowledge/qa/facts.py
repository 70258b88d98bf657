"""Graph facts for a question: one sentence per (disease, intent), for the QA pipeline to cite.

Sentences say only what the records say. Drug facts name drugs, never amounts: the starter data has
no doses, and an item or sentence from an imported table that carries one is left out rather than
repeated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from backend.core.knowledge.graph.diseases import DiseaseRecord
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.graph.graph import EntityType, KnowledgeGraph

Language = Literal["zh", "en"]

# The dose shapes of the starter KB's own check (tests/core/knowledge/test_starter_kb.py), plus ranges.
_DOSE: Final = re.compile(
    r"\d+(?:\.\d+)?\s*(?:[-~～至到]\s*\d+(?:\.\d+)?\s*)?"
    r"(?:mg|毫克|克|g\b|ml|毫升|片|粒|μg|ug|IU|单位|次/日|次/天|丸|袋|支|滴)",
    re.IGNORECASE,
)
_SENTENCE_END: Final = re.compile(r"(?<=[。！？；!?;])")
_MAX_ITEMS: Final = 20


@dataclass(frozen=True, slots=True)
class Fact:
    text: str  # Chinese
    intent: str
    disease: str  # the disease's (Chinese) name
    disease_id: str
    text_en: str | None = None  # set when the question is English


def _dose_free(items: Sequence[str]) -> list[str]:
    return [item for item in items if not _DOSE.search(item)]


def _dose_free_text(text: str) -> str:
    return "".join(s for s in _SENTENCE_END.split(text) if not _DOSE.search(s)).strip()


def _join(items: Sequence[str], sep: str, more: str) -> str:
    shown = list(items[:_MAX_ITEMS])
    return sep.join(shown) + (more if len(items) > _MAX_ITEMS else "")


def _bare(text: str) -> str:
    return text.strip().rstrip("。.；;，,")


@dataclass(frozen=True, slots=True)
class _Field:
    zh: str  # template with {name} and {value}
    en: str
    list_sep: tuple[str, str] = ("、", ", ")  # separators for lists (zh, en)


# Lists of names are joined with 、; lists of phrases (which hold 、 themselves) with ；.
_PHRASES: Final = ("；", "; ")
_FIELDS: Final[dict[str, tuple[str, _Field]]] = {
    "disease_symptom": (
        "symptoms",
        _Field("{name}的常见症状：{value}。", "Common symptoms of {name}: {value}."),
    ),
    "disease_cause": (
        "causes",
        _Field("{name}的常见病因：{value}。", "Causes of {name}: {value}.", _PHRASES),
    ),
    "disease_complication": (
        "complications",
        _Field("{name}可能的并发症：{value}。", "Possible complications of {name}: {value}."),
    ),
    "disease_food_recommended": (
        "foods_recommended",
        _Field("{name}患者宜吃：{value}。", "Recommended foods for {name}: {value}."),
    ),
    "disease_food_avoid": (
        "foods_avoid",
        _Field("{name}患者忌吃：{value}。", "Foods to avoid with {name}: {value}."),
    ),
    "disease_drug": (
        "drugs",
        _Field(
            "{name}的常用药物：{value}（须遵医嘱使用）。",
            "Commonly used drugs for {name}: {value} (only as prescribed by a doctor).",
        ),
    ),
    "disease_check": ("checks", _Field("{name}的常用检查：{value}。", "Common tests for {name}: {value}.")),
    "disease_prevention": (
        "prevention",
        _Field("{name}的预防措施：{value}。", "Prevention of {name}: {value}.", _PHRASES),
    ),
    "disease_course": ("course", _Field("{name}的病程：{value}。", "Course of {name}: {value}.")),
    "disease_treatment": (
        "treatment",
        _Field("{name}的治疗方法：{value}。", "Treatment of {name}: {value}.", _PHRASES),
    ),
    "disease_cure_rate": ("cure_rate", _Field("{name}的治愈情况：{value}。", "Outlook for {name}: {value}.")),
    "disease_susceptible": (
        "susceptible",
        _Field("{name}的易感人群：{value}。", "People susceptible to {name}: {value}."),
    ),
    "disease_description": ("description", _Field("{name}：{value}。", "{name}: {value}.")),
    "disease_department": (
        "department",
        _Field("{name}的就诊科室：{value}。", "Department for {name}: {value}."),
    ),
}


class _English:
    """English forms of a record's items, from the record itself or else from the graph."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self.graph = graph

    def name(self, record: DiseaseRecord) -> str:
        return record.name_en.strip() or record.name

    def disease_or(self, text: str, entity_type: EntityType | None = None) -> str:
        linked = self.graph.disease(text)
        if linked is not None and linked.name_en.strip():
            return linked.name_en.strip()
        if entity_type is not None:
            return self.graph.name_en(entity_type, text) or text
        return text

    def symptoms(self, record: DiseaseRecord, items: Sequence[str]) -> list[str]:
        own: dict[str, str] = {}
        if len(record.symptoms) == len(record.symptoms_en):  # parallel lists; a shifted one is not used
            own = {zh.strip(): en for zh, en in zip(record.symptoms, record.symptoms_en, strict=True)}
        return [own.get(s, "").strip() or self.graph.name_en("symptom", s) or s for s in items]

    def items(self, field: str, record: DiseaseRecord, items: Sequence[str]) -> list[str]:
        if field == "symptoms":
            return self.symptoms(record, items)
        if field == "department":
            return [self.graph.name_en("department", d) or d for d in items]
        if field in ("complications", "causes"):
            return [self.disease_or(i, "complication" if field == "complications" else None) for i in items]
        if field == "checks":
            return [self.graph.name_en("check", c) or c for c in items]
        return list(items)


def _disease_fact(
    graph: KnowledgeGraph, english: _English | None, record: DiseaseRecord, intent: str
) -> Fact | None:
    field, template = _FIELDS[intent]
    en_value: str | None = None
    if field == "department":
        items = list(graph.related(record.id, "belongs_to"))
    elif field in ("description", "course", "cure_rate", "susceptible"):
        text = _bare(_dose_free_text(getattr(record, field)))
        if not text:
            return None
        if english is not None:
            own_en = record.description_en if field == "description" else ""
            en_value = _bare(_dose_free_text(own_en)) or text
        return _fact(template, intent, record, english, text, en_value)
    else:
        items = _dose_free([i.strip() for i in getattr(record, field) if i.strip()])
    if not items:
        return None
    zh_sep, en_sep = template.list_sep
    if english is not None:
        en_value = _join(english.items(field, record, items), en_sep, ", etc.")
    return _fact(template, intent, record, english, _join(items, zh_sep, "等"), en_value)


def _fact(
    template: _Field, intent: str, record: DiseaseRecord, english: _English | None, value: str, en: str | None
) -> Fact:
    text = template.zh.format(name=record.name, value=value)
    text_en = None
    if english is not None and en is not None:
        text_en = template.en.format(name=english.name(record), value=en)
    return Fact(text, intent, record.name, record.id, text_en)


def _symptom_facts(
    graph: KnowledgeGraph, english: _English | None, symptoms: Sequence[ExtractedEntity], limit: int
) -> list[Fact]:
    # An English surface ("sweating") may stand for several Chinese symptoms; asking with the surface
    # finds the diseases listing any of them.
    # ("headaches", a plural, names no symptom itself: then the canonical name is asked with.)
    terms = [
        e.surface if e.surface.isascii() and graph.resolve_symptom(e.surface) else e.name for e in symptoms
    ]
    wanted = {name for term in terms for name in graph.resolve_symptom(term)}
    facts: list[Fact] = []
    for record, _score in graph.diseases_with_symptoms(terms, limit=limit):
        all_symptoms = _dose_free([s.strip() for s in record.symptoms if s.strip()])
        matched = [s for s in all_symptoms if s in wanted]
        text = f"{'、'.join(matched)}可见于{record.name}，其常见症状：{_join(all_symptoms, '、', '等')}。"
        text_en = None
        if english is not None:
            text_en = (
                f"{', '.join(english.symptoms(record, matched))} can occur in {english.name(record)}; "
                f"its common symptoms: {_join(english.symptoms(record, all_symptoms), ', ', ', etc.')}."
            )
        facts.append(Fact(text, "symptom_disease", record.name, record.id, text_en))
    return facts


def _reverse_facts(
    intent: str,
    entities: Sequence[ExtractedEntity],
    lookup: Callable[[str, int], list[DiseaseRecord]],
    english: _English | None,
    zh: str,
    en: str,
    limit: int,
) -> list[Fact]:
    facts: list[Fact] = []
    for entity in entities:
        if _DOSE.search(entity.name):
            continue
        for record in lookup(entity.name, limit):
            text = zh.format(item=entity.name, name=record.name)
            text_en = None
            if english is not None:
                item_en = entity.surface if entity.surface.isascii() else entity.name
                text_en = en.format(item=item_en, name=english.name(record))
            facts.append(Fact(text, intent, record.name, record.id, text_en))
    return facts


def _unique(entities: Sequence[ExtractedEntity], entity_type: EntityType) -> list[ExtractedEntity]:
    seen: set[str] = set()
    out: list[ExtractedEntity] = []
    for entity in entities:
        if entity.type == entity_type and entity.name not in seen:
            seen.add(entity.name)
            out.append(entity)
    return out


def answer_facts(
    graph: KnowledgeGraph,
    entities: Sequence[ExtractedEntity],
    intents: Sequence[str],
    language: Language = "zh",
    *,
    max_diseases: int = 5,
) -> list[Fact]:
    """The graph facts answering `intents` about `entities`, without duplicates.

    Disease facts come per named disease (in order of mention), each in the order of `intents`; then
    the diseases matching the symptoms, those a drug is used for and those a check is used for, at
    most `max_diseases` each. `text_en` is filled when `language` is "en".
    """
    english = _English(graph) if language == "en" else None
    facts: list[Fact] = []
    records: dict[str, DiseaseRecord] = {}
    for entity in _unique(entities, "disease"):
        record = graph.record(entity.id) if entity.id else graph.disease(entity.name)
        if record is not None:
            records.setdefault(record.id, record)
    for record in records.values():
        for intent in intents:
            if intent in _FIELDS and (fact := _disease_fact(graph, english, record, intent)) is not None:
                facts.append(fact)
    if "symptom_disease" in intents and (symptoms := _unique(entities, "symptom")):
        facts.extend(_symptom_facts(graph, english, symptoms, max_diseases))
    if "drug_disease" in intents:
        facts.extend(
            _reverse_facts(
                "drug_disease",
                _unique(entities, "drug"),
                graph.diseases_for_drug,
                english,
                "{item}是{name}的常用药物之一。",
                "{item} is one of the drugs commonly used for {name}.",
                max_diseases,
            )
        )
    if "check_disease" in intents:
        facts.extend(
            _reverse_facts(
                "check_disease",
                _unique(entities, "check"),
                graph.diseases_for_check,
                english,
                "{item}是{name}的常用检查之一。",
                "{item} is one of the common tests for {name}.",
                max_diseases,
            )
        )
    unique: list[Fact] = []
    seen: set[tuple[str, str, str]] = set()
    for fact in facts:
        if (key := (fact.intent, fact.disease_id, fact.text)) not in seen:
            seen.add(key)
            unique.append(fact)
    return unique
