"""The knowledge layer of one worker: stores, the knowledge graph, entity extraction.

Created in the app lifespan (after the fork) by `knowledge_lifespan`; routes reach it through
the `KnowledgeDep` dependency. Everything blocking (FAISS, Aho-Corasick, file I/O) runs in the
worker's bounded thread pool (the loop's default executor, THREAD_POOL_SIZE threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence

import faiss
from fastapi import FastAPI

from backend.core.config import Settings
from backend.core.knowledge.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.entities import EntityExtractor, ExtractedEntity
from backend.core.knowledge.graph import KnowledgeGraph
from backend.core.knowledge.metrics import SEARCH_DURATION
from backend.core.knowledge.repository import KnowledgeRepository, StoreNotFound
from backend.core.knowledge.store_cache import StoreCache
from backend.core.knowledge.vector_store import Hit, LoadedStore, read_chunks
from backend.core.logging import get_logger

log = get_logger("knowledge")

DISEASE_STORE = "diseases"
REFRESH_SECONDS = 1.0


def ensure_starter_store(repository: KnowledgeRepository) -> None:
    """Build the `diseases` store from the shipped starter conditions when it does not exist yet."""
    if repository.current_version(DISEASE_STORE) is None:
        documents = (record.to_document() for record in starter_diseases())
        repository.upsert(DISEASE_STORE, documents, only_if_missing=True)


def disease_records(repository: KnowledgeRepository, version: int) -> list[DiseaseRecord]:
    """The structured diseases of one version of the `diseases` store (for the graph)."""
    records: dict[str, DiseaseRecord] = {}
    for chunk in read_chunks(repository.version_dir(DISEASE_STORE, version)):
        if chunk.doc_id not in records and chunk.metadata.get("kind") == "disease":
            records[chunk.doc_id] = DiseaseRecord.model_validate({"id": chunk.doc_id, **chunk.metadata})
    return list(records.values())


class KnowledgeService:
    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.repository = KnowledgeRepository(settings)
        self.stores = StoreCache(self.repository, settings.vector_store_cache_size, service)
        self.graph = KnowledgeGraph.build([])
        self.extractor = EntityExtractor.build(self.graph)
        self.graph_version: int | None = None

    # --- start-up and refresh --------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(ensure_starter_store, self.repository)
        await self.refresh_graph()

    async def refresh_graph(self) -> None:
        """Rebuild the graph and the extractor when the `diseases` store has a new version."""
        version = await asyncio.to_thread(self.repository.current_version, DISEASE_STORE)
        if version == self.graph_version:
            return
        if version is None:
            graph = KnowledgeGraph.build([])
        else:
            records = await asyncio.to_thread(disease_records, self.repository, version)
            graph = await asyncio.to_thread(KnowledgeGraph.build, records)
        extractor = await asyncio.to_thread(EntityExtractor.build, graph)
        # Swapped together, so a request sees one consistent graph and extractor.
        self.graph, self.extractor, self.graph_version = graph, extractor, version
        log.info("knowledge graph ready", extra={"version": version, **graph.stats()})

    async def refresh(self) -> None:
        await self.stores.refresh_versions()
        await self.refresh_graph()

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except Exception as exc:  # a transient file error must not end the refresher
                log.warning("knowledge refresh failed", extra={"error": type(exc).__name__})

    # --- queries ---------------------------------------------------------------------------

    async def extract(self, text: str) -> list[ExtractedEntity]:
        extractor = self.extractor
        return await asyncio.to_thread(extractor.extract, text)

    async def search(self, query: str, stores: Sequence[str] | None, top_k: int) -> list[Hit]:
        """Search stores concurrently and merge by score; a missing store named by the caller is an error."""
        names = list(stores) if stores else await self.store_names()
        loaded = await asyncio.gather(*(self.stores.get(name) for name in names))
        results = await asyncio.gather(*(self._search_one(store, query, top_k) for store in loaded))
        merged = [hit for hits in results for hit in hits]
        merged.sort(key=lambda hit: hit.score, reverse=True)
        return merged[:top_k]

    async def _search_one(self, store: LoadedStore, query: str, top_k: int) -> list[Hit]:
        started = time.perf_counter()

        def run() -> list[Hit]:
            return store.search(store.embed_query(query), top_k)

        hits = await asyncio.to_thread(run)
        SEARCH_DURATION.labels(self.service).observe(time.perf_counter() - started)
        return hits

    async def store_names(self) -> list[str]:
        infos = await asyncio.to_thread(self.repository.list_stores)
        return [info.name for info in infos]

    async def ready(self) -> None:
        if self.graph_version is None:
            raise StoreNotFound(DISEASE_STORE)
        await self.stores.get(DISEASE_STORE)


@contextlib.asynccontextmanager
async def knowledge_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the knowledge layer and the QA pipeline in this worker (create_app(lifespans=...))."""
    from backend.core.knowledge.qa import QAPipeline  # qa builds on this module
    from backend.core.llm.client import LLMClient

    settings: Settings = app.state.settings
    # One OpenMP thread per worker: 4 workers x N threads would oversubscribe the cores, and our
    # own thread pool already gives searches their parallelism.
    faiss.omp_set_num_threads(1)
    knowledge = KnowledgeService(settings, app.state.service)
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
    try:
        yield
    finally:
        refresher.cancel()
        if llm is not None:
            await llm.aclose()
