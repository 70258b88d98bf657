"""FastAPI dependencies shared by both services, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from backend.core.cache.tiered import TieredCache
from backend.core.consultations import ConsultationStore
from backend.core.errors import AppError
from backend.core.knowledge.qa.answers import Answers
from backend.core.knowledge.qa.pipeline import QAPipeline
from backend.core.knowledge.service import KnowledgeService
from backend.core.metrics import RATE_LIMITED
from backend.core.ratelimit import RateLimiter


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


async def get_answers(request: Request) -> Answers:
    return Answers(request.app.state.qa, request.app.state.cache)


AnswersDep = Annotated[Answers, Depends(get_answers)]
ConsultationsDep = Annotated[ConsultationStore, Depends(get_consultations)]
CacheDep = Annotated[TieredCache, Depends(get_cache)]
KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
QADep = Annotated[QAPipeline, Depends(get_qa)]


def rate_limit(name: str) -> Any:
    """A dependency enforcing limit `name` ("default", "qa", "health") per client address and route.

    The client address is the peer, or the X-Forwarded-For address only when the peer is a
    trusted proxy (FORWARDED_ALLOW_IPS, applied by uvicorn), so a client cannot forge its key.
    """

    async def check(request: Request, response: Response) -> None:
        limiter: RateLimiter = request.app.state.limiter
        if not limiter.enabled:
            return
        route = getattr(request.scope.get("route"), "path", "<unmatched>")
        client = request.client.host if request.client else "unknown"
        decision = await limiter.hit(name, route, client)
        if not decision.allowed:
            RATE_LIMITED.labels(request.app.state.service, name).inc()
            raise AppError(
                429,
                f"Too many requests: at most {decision.limit} per window. Retry in {decision.reset_after} s.",
                headers=decision.headers(),
            )
        response.headers.update(decision.headers())

    return Depends(check)
