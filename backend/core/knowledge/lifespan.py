"""The knowledge layer's place in the app lifespan: opened in each worker after the fork."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import faiss
from fastapi import FastAPI

from backend.core.config import Settings
from backend.core.knowledge.qa.pipeline import QAPipeline
from backend.core.knowledge.replication import Replication, channel
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.service import KnowledgeService
from backend.core.knowledge.store.central import CentralStore
from backend.core.llm.client import LLMClient


@contextlib.asynccontextmanager
async def knowledge_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the knowledge layer and the QA pipeline in this worker (create_app(lifespans=...))."""
    settings: Settings = app.state.settings
    # One OpenMP thread per worker: 4 workers x N threads would oversubscribe the cores, and our
    # own thread pool already gives searches their parallelism.
    faiss.omp_set_num_threads(1)
    redis = app.state.redis
    central = CentralStore(app.state.db)

    async def announce(store: str) -> None:
        await redis.publish(channel(settings), store)

    def replicate(indexer: Indexer) -> Replication:
        return Replication(indexer, central, announce)

    knowledge = KnowledgeService(settings, app.state.service, replicate)
    await knowledge.start()
    llm = LLMClient.from_settings(settings, app.state.service)
    app.state.knowledge = knowledge
    app.state.qa = QAPipeline(
        knowledge,
        llm,
        top_k=settings.qa_top_k,
        min_score={"zh": settings.qa_min_score_zh, "en": settings.qa_min_score_en},
        service=app.state.service,
    )
    app.state.readiness_checks["knowledge"] = knowledge.ready
    refresher = asyncio.create_task(knowledge.refresh_forever())
    assert knowledge.replication is not None
    follower = asyncio.create_task(knowledge.replication.follow(redis.pubsub, channel(settings)))
    try:
        yield
    finally:
        refresher.cancel()
        follower.cancel()
        if knowledge.embedder is not None:
            await knowledge.embedder.aclose()
        if llm is not None:
            await llm.aclose()
