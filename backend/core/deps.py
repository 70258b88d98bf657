"""FastAPI dependencies shared by both services, as Annotated aliases.

Rate limits are not dependencies: see backend/core/guard.py (`rate_limited`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.core.cache.tiered import TieredCache
from backend.core.consultations import ConsultationStore
from backend.core.knowledge.qa.answers import Answers
from backend.core.knowledge.qa.pipeline import QAPipeline
from backend.core.knowledge.service import KnowledgeService


# Dependencies are async even when they do not await: FastAPI runs a plain `def` dependency in its
# thread pool, a thread hop per request for a mere attribute read.
async def get_knowledge(request: Request) -> KnowledgeService:
    knowledge: KnowledgeService = request.app.state.knowledge
    return knowledge


async def get_qa(request: Request) -> QAPipeline:
    pipeline: QAPipeline = request.app.state.qa
    return pipeline


async def get_cache(request: Request) -> TieredCache:
    cache: TieredCache = request.app.state.cache
    return cache


async def get_consultations(request: Request) -> ConsultationStore:
    consultations: ConsultationStore = request.app.state.consultations
    return consultations


def answers_of(request: Request) -> Answers:
    """What get_answers gives, for the hot QA routes to call without a dependency to solve."""
    return Answers(request.app.state.qa, request.app.state.cache)


async def get_answers(request: Request) -> Answers:
    return answers_of(request)


AnswersDep = Annotated[Answers, Depends(get_answers)]
ConsultationsDep = Annotated[ConsultationStore, Depends(get_consultations)]
CacheDep = Annotated[TieredCache, Depends(get_cache)]
KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
QADep = Annotated[QAPipeline, Depends(get_qa)]
