"""Which conditions a complaint may be: the knowledge graph's symptom matching and retrieval.

Two signals rank the knowledge base's conditions:
- the graph: symptoms recognised in the complaint against each disease's symptoms, IDF-weighted,
  so rare shared symptoms count most; its say grows with the number of symptoms matched;
- retrieval: the complaint against each disease's document, which also catches wording the graph
  has no entity for; a weak best passage speaks weakly.
A disease the patient names counts most. Then who the patient is and where the problem is (the
first two steps of triage) weigh in: a condition no department could see this patient for (a
gynaecological one for a man, a paediatric one for an adult) is dropped, and one seen in a
department the body site points to counts more. Cancers the patient did not name step back: common
symptoms come far more often from common diseases, and a first visit goes to the organ's department.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from backend.core.knowledge.graph.departments import to_taxonomy
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.retrieval.vector_store import Hit
from backend.patient.services.profile import CHILD_AGE, Profile

GRAPH_WEIGHT = 0.6
RETRIEVAL_WEIGHT = 0.4
RETRIEVAL_CONFIDENT = 2.0  # a best passage at this multiple of the relevance floor counts in full
NAMED_DISEASE_BONUS = 0.5
SITE_BOOST = 0.5  # a condition seen in a department the body site points to
UNNAMED_TUMOUR_FACTOR = 0.3
ONCOLOGY = "肿瘤科"
CANDIDATES = 10
WOMEN_ONLY = frozenset({"妇科", "产科", "计划生育科"})
MEN_ONLY = frozenset({"男科"})
CHILDREN_ONLY = frozenset({"儿科", "新生儿科", "小儿外科"})


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    name: str
    name_en: str
    score: float
    departments: tuple[str, ...]  # taxonomy names that suit this patient


def suits(department: str, who: Profile) -> bool:
    """Whether a department could see this patient at all."""
    if who.sex == "male" and department in WOMEN_ONLY:
        return False
    if who.sex == "female" and department in MEN_ONLY:
        return False
    return not (who.age is not None and who.age >= CHILD_AGE and department in CHILDREN_ONLY)


def rank_conditions(
    graph: KnowledgeGraph,
    entities: list[ExtractedEntity],
    hits: list[Hit],
    min_score: float,
    who: Profile,
    site_departments: Mapping[str, float],
) -> list[Candidate]:
    """The likeliest conditions, best first, at most CANDIDATES (runs in the thread pool)."""
    symptoms = list(dict.fromkeys(e.name for e in entities if e.type == "symptom"))
    weight: dict[str, float] = defaultdict(float)
    graph_weight = GRAPH_WEIGHT * min(1.0, len(symptoms) / 2)
    for record, score in graph.diseases_with_symptoms(symptoms, CANDIDATES * 2) if symptoms else []:
        weight[record.id] += graph_weight * score
    # Scores count relative to the best passage, and a best passage that only just clears QA's
    # relevance floor is a weak match: its say shrinks with it.
    best = max((hit.score for hit in hits), default=0.0)
    strength = min(1.0, best / (RETRIEVAL_CONFIDENT * min_score)) if best else 0.0
    retrieved: dict[str, float] = {}
    for hit in hits:
        if hit.score >= min_score and hit.metadata.get("kind") == "disease":
            # A document's best passage speaks for it: several chunks of one record add nothing.
            retrieved[hit.doc_id] = max(retrieved.get(hit.doc_id, 0.0), hit.score)
    for disease_id, score in retrieved.items():
        if graph.record(disease_id) is not None:
            weight[disease_id] += RETRIEVAL_WEIGHT * strength * score / best
    named = {entity.id for entity in entities if entity.type == "disease" and entity.id}
    for disease_id in named:
        weight[disease_id] += NAMED_DISEASE_BONUS

    top_site = max(site_departments.values(), default=0.0) or 1.0
    candidates: list[Candidate] = []
    for disease_id, score in weight.items():
        # The graph's department names, in memory: no record read for each candidate.
        labels = to_taxonomy(" ".join(graph.related(disease_id, "belongs_to")))
        fitting = tuple(name for name in labels if suits(name, who))
        if labels and not fitting:
            continue  # no department could see this patient for it
        if disease_id not in named and ONCOLOGY in labels:
            score *= UNNAMED_TUMOUR_FACTOR
        site = max((site_departments.get(name, 0.0) for name in fitting), default=0.0)
        score *= 1.0 + SITE_BOOST * site / top_site
        candidates.append(Candidate(disease_id, "", "", score, fitting))
    candidates.sort(key=lambda c: -c.score)
    named_candidates = []
    for candidate in candidates[:CANDIDATES]:
        found = graph.record(candidate.id)
        if found is not None:
            named_candidates.append(
                Candidate(candidate.id, found.name, found.name_en, candidate.score, candidate.departments)
            )
    return named_candidates


def department_weights(candidates: list[Candidate]) -> dict[str, float]:
    """Each department's share of the candidates' weight (squared: the likeliest conditions lead),
    scaled by how well the best condition fits: two matched symptoms say more than a chance word."""
    weights: dict[str, float] = defaultdict(float)
    for candidate in candidates:
        for name in candidate.departments:
            weights[name] += candidate.score**2 / len(candidate.departments)
    total = sum(weights.values())
    fit = min(1.0, max((c.score for c in candidates), default=0.0))
    return {name: fit * value / total for name, value in weights.items()} if total else {}
