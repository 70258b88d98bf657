"""API shapes of question answering, shared by the doctor and patient services."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.core.knowledge.qa.pipeline import Answer, Source
from backend.core.knowledge.store.documents import StoreName
from backend.core.schemas import StrictModel
from backend.core.text import CleanText


class QARequest(StrictModel):
    question: CleanText = Field(min_length=1, max_length=500)
    stores: list[StoreName] | None = Field(
        None, max_length=10, description="Stores to search; all if omitted"
    )
    top_k: int | None = Field(None, ge=1, le=20)


class EntityOut(BaseModel):
    name: str
    type: str


class QAResponse(BaseModel):
    answer: str
    sources: list[Source]
    entities: list[EntityOut]
    intents: list[str]
    cached: bool = False
    degraded: bool
    disclaimer: str
    took_ms: float

    @classmethod
    def of(cls, answer: Answer, disclaimer: str) -> QAResponse:
        grounding = answer.grounding
        entities = {(e.name, e.type): EntityOut(name=e.name, type=e.type) for e in grounding.entities}
        return cls(
            answer=answer.answer,
            sources=grounding.sources,
            entities=list(entities.values()),
            intents=grounding.intents,
            degraded=answer.degraded,
            disclaimer=disclaimer,
            took_ms=answer.took_ms,
        )
