"""Triage: which department to see, what it might be, and whether it is an emergency.

Red flags come first: any of them makes the result an emergency (急诊科, call 120) whatever else
the complaint says. Otherwise two signals rank the conditions of the knowledge base:
- the knowledge graph: symptoms recognised in the complaint (Aho-Corasick) against each disease's
  symptoms, IDF-weighted, so rare shared symptoms count most;
- retrieval: the complaint's similarity to each disease's document, which also catches wording the
  graph has no entity for.
A department's score is the share of the candidates' weight that belongs to it (after mapping each
disease's own department label onto the taxonomy), adjusted for what the patient told us: children
see 儿科 first, and gynaecology or obstetrics is never suggested to a man.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from dataclasses import dataclass, field

from backend.core.knowledge.graph.departments import department, to_taxonomy
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.retrieval.vector_store import Hit
from backend.core.knowledge.service import KnowledgeService
from backend.core.text import Language, detect_language
from backend.patient.services.red_flags import RedFlag, detect_red_flags, emergency_advice

GRAPH_WEIGHT = 0.6
RETRIEVAL_WEIGHT = 0.4
RETRIEVAL_CONFIDENT = 2.0  # a best passage at this multiple of the relevance floor counts in full
NAMED_DISEASE_BONUS = 0.5
ONCOLOGY = "肿瘤科"
UNNAMED_TUMOUR_FACTOR = 0.3  # the patient names a diagnosis they were given
CANDIDATES = 10
CHILD_AGE = 14  # Chinese hospitals see children under 14 in 儿科
EMERGENCY_DEPARTMENT = "急诊科"
FALLBACK_DEPARTMENT = "全科医学科"
WOMEN_ONLY = frozenset({"妇科", "产科"})
PAEDIATRICS = "儿科"
# Without an age, these words say the patient is a child; without them, an adult is likelier.
_CHILD = re.compile(
    r"孩子|小孩|宝宝|儿子|女儿|婴儿|幼儿|新生儿|小朋友|患儿|\b(?:child|kid|baby|toddler|son|daughter|infant)s?\b",
    re.IGNORECASE,
)
UNSTATED_AGE_PAEDIATRICS = 0.3  # share of 儿科's weight kept when nothing says the patient is a child

DISCLAIMER = {
    "zh": "分诊建议由系统根据您的描述自动生成，仅供参考，不能替代医生的诊断。病情变化或加重时请及时就医。",
    "en": "This triage is generated automatically from your description for reference only and is not a "
    "diagnosis. If your condition changes or gets worse, see a doctor promptly.",
}


def display_name(taxonomy_name: str, language: Language) -> str:
    """A department's name in the patient's language."""
    found = department(taxonomy_name)
    return found.name_en if language == "en" and found is not None else taxonomy_name


@dataclass(frozen=True, slots=True)
class Scored:
    name: str
    score: float


@dataclass
class TriageResult:
    language: Language
    departments: list[Scored]
    possible_conditions: list[Scored]
    red_flags: list[RedFlag]
    symptoms: list[str] = field(default_factory=list)  # recognised in the complaint
    condition_ids: list[str] = field(default_factory=list)  # of possible_conditions, same order

    @property
    def emergency(self) -> bool:
        return bool(self.red_flags)

    @property
    def advice(self) -> str:
        if self.red_flags:
            return emergency_advice(self.red_flags, self.language)
        zh = self.language == "zh"
        if not self.possible_conditions:
            return (
                f"根据目前的描述还不能判断该看哪个科，建议先到{FALLBACK_DEPARTMENT}就诊，由医生进一步评估。"
                if zh
                else "Your description is not enough to tell which department fits; start with General "
                "Practice, where a doctor can assess you further."
            )
        top = self.departments[0].name if zh else display_name(self.departments[0].name, "en")
        return (
            f"建议到{top}就诊。如症状加重，或出现胸痛、呼吸困难、意识不清等情况，请立即拨打120。"
            if zh
            else f"We suggest seeing {top}. If symptoms get worse, or chest pain, difficulty breathing or "
            "confusion appear, call 120 (or your local emergency number) at once."
        )


def _suits(department_name: str, age: float | None, sex: str | None) -> bool:
    if sex == "male" and department_name in WOMEN_ONLY:
        return False
    return not (age is not None and age >= CHILD_AGE and department_name == PAEDIATRICS)


async def triage(
    knowledge: KnowledgeService,
    complaint: str,
    age: float | None = None,
    sex: str | None = None,
    language: Language | None = None,
) -> TriageResult:
    """`language` is the patient's; by default the complaint's own."""
    language = language or detect_language(complaint)
    flags, entities, hits = await asyncio.gather(
        asyncio.to_thread(detect_red_flags, complaint, age),  # regular expressions: CPU work
        knowledge.extract(complaint),
        knowledge.search(complaint, None, CANDIDATES * 2),
    )
    settings = knowledge.settings
    min_score = settings.qa_min_score_zh if language == "zh" else settings.qa_min_score_en
    # Ranking reads disease records from disk (records.py): in the thread pool, off the event loop.
    return await asyncio.to_thread(
        _rank, knowledge.graph, complaint, age, sex, language, flags, entities, hits, min_score
    )


def _rank(
    graph: KnowledgeGraph,
    complaint: str,
    age: float | None,
    sex: str | None,
    language: Language,
    flags: list[RedFlag],
    entities: list[ExtractedEntity],
    hits: list[Hit],
    min_score: float,
) -> TriageResult:
    symptoms = list(dict.fromkeys(e.name for e in entities if e.type == "symptom"))
    ranked = graph.diseases_with_symptoms(symptoms, CANDIDATES) if symptoms else []

    weight: dict[str, float] = defaultdict(float)
    # One recognised symptom ("关节痛") says little about which disease it is: the graph's say grows with
    # the number of symptoms it matched, and retrieval (the whole complaint) carries the rest.
    graph_weight = GRAPH_WEIGHT * min(1.0, len(symptoms) / 2)
    for record, score in ranked:
        weight[record.id] += graph_weight * score
    # Below QA's relevance floor (min_score) a passage matched by chance (one common character): better
    # to name no condition than a wrong one. Scores count relative to the best passage: the cosine of
    # hashed n-grams is small in absolute terms for short text.
    best = max((hit.score for hit in hits), default=0.0)
    # ...but a best passage that only just clears the floor is a weak match, not a strong one: its
    # say shrinks with it, so that two recognised symptoms outweigh a passage sharing a word or two.
    strength = min(1.0, best / (RETRIEVAL_CONFIDENT * min_score)) if best else 0.0
    retrieved: dict[str, float] = {}
    for hit in hits:
        if hit.score < min_score:
            continue
        if hit.metadata.get("kind") == "disease" and graph.record(hit.doc_id) is not None:
            # A document's best passage speaks for it: several chunks of one long record add nothing.
            retrieved[hit.doc_id] = max(retrieved.get(hit.doc_id, 0.0), hit.score)
    for disease_id, score in retrieved.items():
        weight[disease_id] += RETRIEVAL_WEIGHT * strength * score / best
    named = {entity.id for entity in entities if entity.type == "disease" and entity.id}
    for disease_id in named:
        weight[disease_id] += NAMED_DISEASE_BONUS
    # Common symptoms are far likelier to come from a common disease than from a cancer, and a first
    # visit goes to the organ's department, which refers on: tumours a patient has not named step back.
    for disease_id in list(weight):
        # The graph's department names, in memory: no record read for each candidate.
        labels = to_taxonomy(" ".join(graph.related(disease_id, "belongs_to")))
        if disease_id not in named and ONCOLOGY in labels:
            weight[disease_id] *= UNNAMED_TUMOUR_FACTOR

    candidates = sorted(weight.items(), key=lambda item: -item[1])[:CANDIDATES]
    conditions: list[Scored] = []
    condition_ids: list[str] = []
    department_weight: dict[str, float] = defaultdict(float)
    for disease_id, score in candidates:
        disease = graph.record(disease_id)
        if disease is None:
            continue
        conditions.append(
            Scored(disease.name if language == "zh" or not disease.name_en else disease.name_en, score)
        )
        condition_ids.append(disease_id)
        names = [name for name in to_taxonomy(disease.department) if _suits(name, age, sex)]
        for name in names:
            department_weight[name] += score * score / len(names)  # squared: the likeliest conditions lead
    # A stated age under 14 sends a child to 儿科 first. Words like 孩子 only keep 儿科 in the running:
    # a parent may be asking about a grown-up son or daughter.
    child = age is not None and age < CHILD_AGE
    maybe_child = child or (age is None and _CHILD.search(complaint) is not None)
    if child and department_weight:
        department_weight[PAEDIATRICS] += sum(department_weight.values())
    elif not maybe_child and PAEDIATRICS in department_weight:
        department_weight[PAEDIATRICS] *= UNSTATED_AGE_PAEDIATRICS
    if flags:
        department_weight[EMERGENCY_DEPARTMENT] += sum(department_weight.values()) + 1.0
    if not department_weight:
        department_weight[PAEDIATRICS if maybe_child else FALLBACK_DEPARTMENT] = 1.0

    total = sum(department_weight.values())
    departments = [
        Scored(name, round(value / total, 4))
        for name, value in sorted(department_weight.items(), key=lambda item: (-item[1], item[0]))
    ][:3]
    top = max((score for _, score in candidates), default=1.0) or 1.0
    return TriageResult(
        language=language,
        departments=departments,
        possible_conditions=[Scored(c.name, round(c.score / top, 4)) for c in conditions[:5]],
        red_flags=flags,
        symptoms=symptoms,
        condition_ids=condition_ids[:5],
    )
