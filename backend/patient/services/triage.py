"""Triage: which department to see, what it might be, and whether it is an emergency.

Reasoned the way a triage nurse does, each step kept in the result's explanation:
1. red flags: any of them makes it an emergency (急诊科, call 120) whatever else is said;
2. who: age group, sex, pregnancy or possible pregnancy, and whom the message is about (profile.py,
   rules/who.toml; the form's age and sex win over the words);
3. where and what: the body sites, organ systems and requests named (sites.py, rules/sites.toml);
4. which conditions: the knowledge graph's symptom matching and retrieval, weighted by 2 and 3
   (conditions.py);
5. a department model learned from the knowledge base itself (graph/department_model.py): every
   disease record with a department is a labelled example.
The signals are added with fixed weights and turned into probabilities with a softmax over the whole
taxonomy, so a score means the same in every complaint (the temperature was fitted on the dev split:
a top department at 0.6 is right about six times in ten). When the best department is still
unlikely, the result says the match is weak and sends the patient to 全科医学科; otherwise 全科医学科
is not listed among the alternatives, which are the next likeliest specific departments.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from dataclasses import dataclass, field

from backend.core.knowledge.graph.department_model import model_for
from backend.core.knowledge.graph.departments import departments, display_name, to_taxonomy
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.service import KnowledgeService
from backend.core.text import Language, detect_language
from backend.patient.services import explanation
from backend.patient.services.conditions import Candidate, rank_conditions, suits
from backend.patient.services.conditions import department_weights as condition_weights
from backend.patient.services.profile import Profile, Sex, read_profile
from backend.patient.services.red_flags import RedFlag, detect_red_flags, emergency_advice
from backend.patient.services.sites import AreaHit, find_areas
from backend.patient.services.sites import department_weights as site_weights

SITE_WEIGHT = 1.0
CONDITION_WEIGHT = 0.1
NAMED_WEIGHT = 0.3  # a diagnosis the patient names ("我有肺癌") sends them where it is treated
MODEL_WEIGHT = 0.3  # of a sharper model posterior (department_model.TEMPERATURE): the site still leads
MODEL_CONFIDENT = 0.3  # a model posterior that counts as pointing somewhere on its own
TEMPERATURE = 0.12  # softmax temperature over the summed signals
# General practice is where a patient starts when nothing points elsewhere: it holds this much of
# the evidence scale, and a specific department must beat it.
GENERAL_PRACTICE_PRIOR = 0.05
CHILD_FIRST = 1.0  # children see 儿科 first: it gets the whole evidence again on top
UNSTATED_AGE_PAEDIATRICS = 0.3  # share of 儿科's weight kept when nothing says the patient is a child
PREGNANCY_OBSTETRICS = 0.3  # a pregnant patient's obstetrics share, of the best department's weight
NEONATE_YEARS = 28 / 365
EMERGENCY_DEPARTMENT = "急诊科"
FALLBACK_DEPARTMENT = "全科医学科"
PAEDIATRICS = "儿科"
NEONATOLOGY = "新生儿科"
OBSTETRICS = "产科"
SHOWN = 3  # departments in the answer
CANDIDATES = 10

DISCLAIMER = {
    "zh": "分诊建议由系统根据您的描述自动生成，仅供参考，不能替代医生的诊断。病情变化或加重时请及时就医。",
    "en": "This triage is generated automatically from your description for reference only and is not a "
    "diagnosis. If your condition changes or gets worse, see a doctor promptly.",
}


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
    who: Profile = field(default_factory=Profile)
    areas: list[AreaHit] = field(default_factory=list)
    weak: bool = False  # nothing pointed clearly anywhere: 全科医学科 first
    explanation: list[explanation.Step] = field(default_factory=list)

    @property
    def emergency(self) -> bool:
        return bool(self.red_flags)

    @property
    def advice(self) -> str:
        if self.red_flags:
            return emergency_advice(self.red_flags, self.language)
        zh = self.language == "zh"
        if self.weak:
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


async def triage(
    knowledge: KnowledgeService,
    complaint: str,
    age: float | None = None,
    sex: Sex | None = None,
    language: Language | None = None,
    pregnant: bool | None = None,
) -> TriageResult:
    """`language` is the patient's; by default the complaint's own. `age`, `sex` and `pregnant`
    are what the patient entered or told the dialogue: they win over what the words say."""
    language = language or detect_language(complaint)
    who = read_profile(complaint).merged(age, sex)
    if pregnant is not None and who.sex != "male":
        who = Profile(who.age, "female" if pregnant else who.sex, pregnant, who.subject, who.age_group)
    flags, entities, hits = await asyncio.gather(
        # A pregnancy the patient or the dialogue stated: a late period alone escalates only what the
        # red-flag rules say (e.g. sudden severe pain with dizziness), not any belly ache.
        asyncio.to_thread(detect_red_flags, complaint, who.age, pregnant=pregnant),  # CPU work
        knowledge.extract(complaint),
        knowledge.search(complaint, None, CANDIDATES * 2),
    )
    settings = knowledge.settings
    min_score = settings.qa_min_score_zh if language == "zh" else settings.qa_min_score_en
    graph = knowledge.graph

    def rank() -> TriageResult:
        areas = find_areas(complaint)
        sites = site_weights(areas)
        candidates = rank_conditions(graph, entities, hits, min_score, who, sites)
        predicted = model_for(graph).predict(complaint)  # trained once per graph, then cached
        named = named_departments(graph, entities, who)
        ranked, weak = decide(who, sites, condition_weights(candidates), named, predicted, bool(flags))
        result = TriageResult(
            language=language,
            departments=ranked,
            possible_conditions=_conditions(candidates, language),
            red_flags=flags,
            symptoms=list(dict.fromkeys(e.name for e in entities if e.type == "symptom")),
            condition_ids=[c.id for c in candidates[:5]],
            who=who,
            areas=areas,
            weak=weak,
        )
        result.explanation = explanation.steps(result, predicted, language)
        return result

    # Ranking reads disease records from disk (records.py): in the thread pool, off the event loop.
    return await asyncio.to_thread(rank)


def decide(
    who: Profile,
    sites: dict[str, float],
    conditions: dict[str, float],
    named: dict[str, float],
    predicted: dict[str, float],
    emergency: bool,
) -> tuple[list[Scored], bool]:
    """The departments to show, best first with calibrated probabilities, and whether it is weak."""
    raw: dict[str, float] = defaultdict(float)
    site_total = max(1.0, sum(sites.values()))
    for name, value in sites.items():
        raw[name] += SITE_WEIGHT * value / site_total
    for name, value in conditions.items():
        raw[name] += CONDITION_WEIGHT * value
    for name, value in named.items():
        raw[name] += NAMED_WEIGHT * value
    pointed = set(raw)  # what the complaint's own words pointed to, before the model's spread
    for name, value in predicted.items():
        raw[name] += MODEL_WEIGHT * value
        if value >= MODEL_CONFIDENT:
            pointed.add(name)
    for name in [name for name in raw if not suits(name, who)]:
        del raw[name]
    evidence = sum(raw.values())
    if who.age_group in ("infant", "child"):
        # Children are seen in 儿科 first, newborns in 新生儿科; the organ's department follows.
        first = NEONATOLOGY if who.age is not None and who.age < NEONATE_YEARS else PAEDIATRICS
        raw[first] += CHILD_FIRST * evidence + SITE_WEIGHT * 0.5
    elif who.age is None and PAEDIATRICS in raw:
        raw[PAEDIATRICS] *= UNSTATED_AGE_PAEDIATRICS
    if who.pregnant and raw:
        raw[OBSTETRICS] += PREGNANCY_OBSTETRICS * max(raw.values())
    if emergency:
        raw[EMERGENCY_DEPARTMENT] += max(raw.values(), default=0.0) + 1.0
    raw[FALLBACK_DEPARTMENT] += GENERAL_PRACTICE_PRIOR

    names = [item.name for item in departments()]
    exponents = {name: raw.get(name, 0.0) / TEMPERATURE for name in names}
    top = max(exponents.values())
    total = sum(math.exp(value - top) for value in exponents.values())
    probability = {name: math.exp(value - top) / total for name, value in exponents.items()}
    ranked = sorted((name for name in raw if raw[name] > 0), key=lambda name: (-probability[name], name))
    weak = ranked[0] == FALLBACK_DEPARTMENT
    if weak:
        # Alternatives only where something pointed: the model always spreads a little everywhere.
        ranked = [ranked[0], *(name for name in ranked[1:] if name in pointed)]
        if who.age_group in ("infant", "child"):
            ranked = [PAEDIATRICS, *(name for name in ranked if name != PAEDIATRICS)]
    else:
        # General practice is the fallback, not an alternative: behind a specific department it
        # would take the slot of the next likeliest one, and the advice already names it when weak.
        ranked = [name for name in ranked if name != FALLBACK_DEPARTMENT]
    return [Scored(name, round(probability[name], 4)) for name in ranked[:SHOWN]], weak


def named_departments(
    graph: KnowledgeGraph, entities: list[ExtractedEntity], who: Profile
) -> dict[str, float]:
    """Where the diagnoses the patient names are treated, each diagnosis an equal share."""
    weights: dict[str, float] = defaultdict(float)
    named = {entity.id for entity in entities if entity.type == "disease" and entity.id}
    for disease_id in named:
        labels = to_taxonomy(" ".join(graph.related(disease_id, "belongs_to")))
        fitting = [name for name in labels if suits(name, who)]
        for name in fitting:
            weights[name] += 1.0 / len(fitting) / len(named)
    return weights


def _conditions(candidates: list[Candidate], language: Language) -> list[Scored]:
    top = max((c.score for c in candidates), default=1.0) or 1.0
    return [
        Scored(c.name if language == "zh" or not c.name_en else c.name_en, round(c.score / top, 4))
        for c in candidates[:5]
    ]
