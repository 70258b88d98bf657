"""The question-answering pipeline both services use: ground, then answer, always with sources.

1. Entity extraction (knowledge graph) and passage retrieval (lexical, and dense when a model is
   configured) run concurrently.
2. Intents pick the graph facts that answer the question; passages below QA_MIN_SCORE (a relevance
   in [0, 1], calibrated on huatuo26m-dev) are dropped, and so are disease passages of another
   field than the question asks about (focus.py). Each passage's snippet is its sentences that
   answer the question.
3. Nothing relevant -> say so (no guessing). A condition the question carries (pregnancy, a child,
   a dose...) that no evidence speaks to -> the answer says so first, then shows what there is.
   The LLM, when configured and healthy, writes the answer from exactly these numbered sources;
   without it, or when it fails (timeout, error, breaker open), the answer is composed from the facts
   and passages themselves (degraded=True when the model or the embedding model was wanted but
   failed). An upstream failure never becomes a 5xx.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from backend.core.knowledge.graph.build import DISEASE_STORE
from backend.core.knowledge.graph.diseases import SECTIONS
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.knowledge.metrics import QA_ANSWERS, QA_DURATION
from backend.core.knowledge.qa.facts import answer_facts
from backend.core.knowledge.qa.focus import SNIPPET_CHARS, Condition, no_evidence_note, snippet, unaddressed
from backend.core.knowledge.qa.focus import wanted_sections as sections_for
from backend.core.knowledge.qa.intents import classify_intents
from backend.core.knowledge.retrieval.hits import Hit
from backend.core.knowledge.service import KnowledgeService
from backend.core.llm.client import LLMClient, LLMUnavailable
from backend.core.llm.prompts import ContextPassage, build_messages
from backend.core.text import Language, detect_language

Audience = Literal["doctor", "patient"]

DISCLAIMER = {
    "zh": "本回答依据知识库自动生成，仅供参考，不能替代医生的诊断和治疗。如有不适或病情变化，请及时就医；"
    "出现胸痛、呼吸困难、意识改变等紧急情况请立即拨打120。",
    "en": "This answer is generated from the knowledge base for reference only and does not replace a "
    "doctor's diagnosis or treatment. Seek medical care if you feel unwell; in an emergency such as "
    "chest pain, difficulty breathing or confusion, call 120 (or your local emergency number) at once.",
}
NOT_FOUND = {
    "zh": "知识库中没有找到与这个问题相关的内容，因此无法给出有依据的回答。"
    "请换一种问法，或咨询相关专科医生。",
    "en": "Nothing in the knowledge base is relevant to this question, so no grounded answer can be given. "
    "Try rephrasing it, or ask a specialist.",
}


@dataclass
class Source:
    number: int
    store: str
    doc_id: str
    title: str
    snippet: str
    score: float


@dataclass
class Grounding:
    """What the answer may use: numbered sources, the graph facts, what was recognised."""

    language: Language
    entities: list[ExtractedEntity]
    intents: list[str]
    facts: list[tuple[str, int]]  # fact text, number of its source
    passages: list[Source]
    sources: list[Source] = field(default_factory=list)
    missing: list[Condition] = field(default_factory=list)  # conditions asked that no evidence addresses
    retrieval_degraded: bool = False  # the embedding model failed: lexical passages only

    @property
    def empty(self) -> bool:
        return not self.facts and not self.passages


@dataclass
class Answer:
    answer: str
    grounding: Grounding
    mode: Literal["llm", "extractive", "degraded", "not_found"]
    took_ms: float

    @property
    def degraded(self) -> bool:
        return self.mode == "degraded" or self.grounding.retrieval_degraded


CANDIDATES = 3  # passages retrieved per one shown: room for those of the wrong field to step aside
DRUG_SECTION = dict(SECTIONS)["drugs"]


class QAPipeline:
    def __init__(
        self,
        knowledge: KnowledgeService,
        llm: LLMClient | None,
        *,
        top_k: int,
        min_score: dict[Language, float],
        service: str,
    ) -> None:
        self.knowledge = knowledge
        self.llm = llm
        self.top_k = top_k
        self.min_score = min_score
        self.service = service

    async def ground(
        self, question: str, stores: Sequence[str] | None, top_k: int | None, audience: Audience
    ) -> Grounding:
        language = detect_language(question)
        entities, retrieval = await asyncio.gather(
            self.knowledge.extract(question),
            self.knowledge.retrieve(question, stores, (top_k or self.top_k) * CANDIDATES),
        )
        intents = classify_intents(question, entities)
        wanted = sections_for(intents)
        graph = self.knowledge.graph
        sources: list[Source] = []
        facts: list[tuple[str, int]] = []
        for fact in answer_facts(graph, entities, intents, language):
            if audience == "patient" and fact.intent in {"disease_drug", "drug_disease"}:
                continue  # patients get no drug lists; a doctor decides on medication
            text = fact.text_en if language == "en" and fact.text_en else fact.text
            store = self.knowledge.record_store.get(fact.disease_id, DISEASE_STORE)
            source = _find(sources, store, fact.disease_id)
            if source is None:
                number = len(sources) + 1
                source = Source(number, store, fact.disease_id, fact.disease, text[:SNIPPET_CHARS], 1.0)
                sources.append(source)
            facts.append((text, source.number))
        passages: list[Source] = []
        limit = top_k or self.top_k
        # The diseases the question names and the graph answers for: another disease's field that
        # merely mentions one (失眠's complications list 高血压) is about something else.
        named = {e.id for e in entities if e.type == "disease"} & {s.doc_id for s in sources}
        for hit in retrieval.hits:
            if len(passages) >= limit:
                break
            if hit.score < self.min_score[language] or not _on_point(hit, wanted):
                continue
            if named and _other_disease(hit, named):
                continue
            if audience == "patient" and hit.metadata.get("section") == DRUG_SECTION:
                continue  # as the drug facts: which medicine is a doctor's call
            source = _find(sources, hit.store, hit.doc_id)
            if source is None:
                source = _source(len(sources) + 1, hit, question)
                sources.append(source)
                passages.append(source)
        shown = {(p.store, p.doc_id) for p in passages}
        evidence = [text for text, _ in facts] + [
            h.text for h in retrieval.hits if (h.store, h.doc_id) in shown
        ]
        drugs = [word for e in entities if e.type == "drug" for word in {e.surface, e.name}]
        missing = unaddressed(question, evidence, drugs)
        return Grounding(language, entities, intents, facts, passages, sources, missing, retrieval.degraded)

    async def answer(
        self,
        question: str,
        stores: Sequence[str] | None = None,
        top_k: int | None = None,
        audience: Audience = "doctor",
    ) -> Answer:
        started = time.perf_counter()
        grounding = await self.ground(question, stores, top_k, audience)
        if grounding.empty:
            text, mode = NOT_FOUND[grounding.language], "not_found"
        elif self.llm is not None:
            try:
                text = await self.llm.complete(self._messages(question, grounding, audience))
                mode = "llm"
            except LLMUnavailable:
                text, mode = compose_extractive(grounding), "degraded"
        else:
            text, mode = compose_extractive(grounding), "extractive"
        took = time.perf_counter() - started
        QA_ANSWERS.labels(self.service, mode).inc()
        QA_DURATION.labels(self.service, mode).observe(took)
        return Answer(text, grounding, mode, round(took * 1000, 2))  # type: ignore[arg-type]

    async def stream(
        self, question: str, grounding: Grounding, audience: Audience = "doctor"
    ) -> AsyncIterator[tuple[str, str]]:
        """(event, text) pairs: the answer's pieces, then ("done", mode)."""
        if grounding.empty:
            yield "delta", NOT_FOUND[grounding.language]
            yield "done", "not_found"
            return
        if self.llm is None:
            yield "delta", compose_extractive(grounding)
            yield "done", "extractive"
            return
        sent = False
        try:
            async for piece in self.llm.stream(self._messages(question, grounding, audience)):
                sent = True
                yield "delta", piece
            yield "done", "llm"
        except LLMUnavailable:
            # Mid-stream failure: what was sent stays, and the grounded answer follows it.
            yield "delta", ("\n\n" if sent else "") + compose_extractive(grounding)
            yield "done", "degraded"

    def _messages(self, question: str, grounding: Grounding, audience: Audience) -> list[dict[str, str]]:
        passages = [ContextPassage(s.number, s.title, s.snippet) for s in grounding.passages]
        facts = [f"[{number}] {text}" for text, number in grounding.facts]
        missing = [c.label["en"] for c in grounding.missing]
        return build_messages(question, passages, facts, audience, grounding.language, unaddressed=missing)


def compose_extractive(grounding: Grounding) -> str:
    """The answer made of the grounding itself, each statement marked with its source; a condition
    asked that nothing addresses is said first."""
    zh = grounding.language == "zh"
    lines: list[str] = []
    if grounding.missing:
        lines.append(no_evidence_note(grounding.missing, grounding.language))
    if grounding.facts:
        lines.append("根据医学知识图谱：" if zh else "From the medical knowledge graph:")
        lines.extend(f"- {text} [{number}]" for text, number in grounding.facts)
    if grounding.passages:
        lines.append("相关知识库内容：" if zh else "Related passages from the knowledge base:")
        lines.extend(f"- {source.snippet} [{source.number}]" for source in grounding.passages[:3])
    return "\n".join(lines)


def _find(sources: list[Source], store: str, doc_id: str) -> Source | None:
    return next((s for s in sources if s.store == store and s.doc_id == doc_id), None)


def _on_point(hit: Hit, wanted: set[str]) -> bool:
    """A disease passage answers when it is a field the question asks about (any, if none is asked)."""
    section = hit.metadata.get("section")
    return not wanted or section is None or section in wanted


def _other_disease(hit: Hit, named: set[str]) -> bool:
    """A field of a disease record (it has a section) other than the diseases named."""
    return hit.metadata.get("section") is not None and hit.doc_id not in named


def _source(number: int, hit: Hit, question: str) -> Source:
    text = snippet(hit.text, question)
    section = hit.metadata.get("section")
    heading = f"{section}："
    if section is not None and hit.text.startswith(heading) and not text.startswith(heading):
        # The field's sentences without its heading read as a bare list ("阿司匹林；"): of what?
        text = heading + text
    return Source(number, hit.store, hit.doc_id, hit.title, text, round(hit.score, 4))
