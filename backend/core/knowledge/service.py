"""The knowledge layer of one worker: stores, the knowledge graph, entity extraction.

Created in the app lifespan (after the fork) by `knowledge_lifespan`; routes reach it through
the `KnowledgeDep` dependency. Everything blocking (tantivy, FAISS, Aho-Corasick, file I/O) runs in
the worker's bounded thread pool (the loop's default executor, THREAD_POOL_SIZE threads); the
question's embedding, a network call, is awaited on the loop with its timeout and breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from backend.core.config import Settings
from backend.core.errors import DependencyUnavailable
from backend.core.knowledge.graph.build import DISEASE_STORE, load_snapshot
from backend.core.knowledge.graph.diseases import DiseaseRecord, starter_diseases
from backend.core.knowledge.graph.entities import EntityExtractor, ExtractedEntity
from backend.core.knowledge.graph.graph import KnowledgeGraph
from backend.core.knowledge.graph.snapshot import source_fingerprint
from backend.core.knowledge.metrics import EMBEDDING_FAILURES, SEARCH_DURATION
from backend.core.knowledge.replication import Replication
from backend.core.knowledge.retrieval.embeddings import EmbeddingUnavailable, QueryEmbedder, Vectors
from backend.core.knowledge.retrieval.hits import Hit, Retrieval
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.retrieval.store_cache import StoreCache
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository, StoreInfo, StoreNotFound
from backend.core.logging import get_logger
from backend.core.text import CJK

log = get_logger("knowledge")

STARTER_PREFIX = "disease-"
MIN_SCRIPT_SHARE = 0.05  # a store with less of the question's script than this is not searched
REFRESH_SECONDS = 1.0

Replicate = Callable[[Indexer], Replication]


def starter_marker(repository: KnowledgeRepository, cache_dir: Path) -> Path:
    """Marks that this host checked the shipped starter files against this version of the store:
    comparing every record took a third of a second of each worker's start."""
    version = repository.current_version(DISEASE_STORE)
    batch = repository.info(DISEASE_STORE).batch_id if version is not None else ""
    material = repr((source_fingerprint(), version, batch, str(repository.root)))
    return cache_dir / f"starter-{hashlib.sha256(material.encode()).hexdigest()[:32]}"


def mark_starter_checked(repository: KnowledgeRepository, cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob("starter-*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    # Named by the version it found: if a new one was written, the next start checks once more.
    starter_marker(repository, cache_dir).touch()


def starter_changes(repository: KnowledgeRepository) -> tuple[list[Document], set[str], bool]:
    """What the `diseases` store needs to match the shipped starter conditions: the records that
    differ (new conditions_*.jsonl files, edited records), the ids no longer shipped, and whether
    the store is to be created."""
    records = {record.id: record for record in starter_diseases()}
    shipped = {doc_id: record.to_document() for doc_id, record in records.items()}
    version = repository.current_version(DISEASE_STORE)
    if version is None:
        return list(shipped.values()), set(), True
    path = repository.records_path(DISEASE_STORE, version)
    stored: dict[str, DiseaseRecord] = {}
    if path.exists():
        for line in path.read_bytes().splitlines():
            record = DiseaseRecord.model_validate_json(line)
            stored[record.id] = record
    changed = [doc for doc_id, doc in shipped.items() if stored.get(doc_id) != records[doc_id]]
    # The starter files name their conditions `disease-...`; an id of that form no longer shipped
    # was a starter condition withdrawn by the team.
    gone = {doc_id for doc_id in stored if doc_id.startswith(STARTER_PREFIX)} - set(shipped)
    return changed, gone, False


def ensure_starter_store(indexer: Indexer) -> None:
    """Bring this host's `diseases` store up to the shipped starter conditions (no database)."""
    documents, gone, create = starter_changes(indexer.repository)
    if documents or gone:
        indexer.upsert(DISEASE_STORE, documents, delete=gone, only_if_missing=create)


def content_key(infos: Sequence[StoreInfo]) -> str:
    """Names what the stores hold: the same on every replica that holds the same batches."""
    material = "|".join(
        f"{info.name}:{info.version}:{info.batch_id or info.built_at}"
        for info in sorted(infos, key=lambda info: info.name)
    )
    return hashlib.sha256(material.encode()).hexdigest()[:24]


class KnowledgeService:
    def __init__(self, settings: Settings, service: str, replicate: Replicate | None = None) -> None:
        """`replicate` ties this host's stores to the system of record (replication.py); without
        it (tools, tests) the stores are this host's alone."""
        self.settings = settings
        self.service = service
        self.repository = KnowledgeRepository(settings)
        self.indexer = Indexer(self.repository)
        self.replication = replicate(self.indexer) if replicate is not None else None
        self.identity = self.indexer.identity  # the embedding model, or "" for lexical retrieval only
        self.stores = StoreCache(self.repository, settings.vector_store_cache_size, service, self.identity)
        self.embedder = QueryEmbedder(settings) if self.identity else None
        # What retrieval results depend on besides the stores: caches key on it.
        self.retrieval_identity = f"lexical-v1+{self.identity or 'none'}"
        self.graph = KnowledgeGraph.build([])
        self.extractor = EntityExtractor.build(self.graph)
        self.record_store: dict[str, str] = {}  # disease id -> the store holding its document
        self.graph_versions: dict[str, int] | None = None  # store versions the graph was built from
        self.store_infos: list[StoreInfo] = []  # the live stores, refreshed with the graph
        self.generation = ""  # the knowledge-base generation the loaded state reflects
        self.knowledge_key = ""  # what it holds, as caches key on it (content_key)
        self.starter_pending = False  # the starter store still to be written through the database
        self._generation_lock = asyncio.Lock()

    # --- start-up and refresh --------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.indexer.sync_all)  # a write that stopped before its index
        replication = self.replication
        if replication is not None and not await asyncio.to_thread(replication.pulled_recently):
            try:
                await replication.pull_all()
            except DependencyUnavailable:
                log.warning("database unavailable at start: serving this host's copy of the knowledge")
        await self.ensure_starter()
        # Read before the state it describes: a change in between is caught up with on next use.
        self.generation = await asyncio.to_thread(self.repository.generation)
        await self.refresh_graph()
        self.knowledge_key = content_key(self.store_infos)

    async def ensure_starter(self) -> None:
        """The `diseases` store as shipped, written through the system of record when there is one.
        With the database down and no copy here, it is built here alone, so questions are answered;
        the next start writes it through the database, and every host's copy follows that one."""
        cache_dir = self.settings.cache_dir
        if (await asyncio.to_thread(starter_marker, self.repository, cache_dir)).exists():
            return
        if self.replication is not None and await asyncio.to_thread(self._only_here, DISEASE_STORE):
            try:  # built here while the database was down: now the database's, for every replica
                await self.replication.adopt(DISEASE_STORE)
            except DependencyUnavailable:
                self.starter_pending = True
                return
        documents, gone, create = await asyncio.to_thread(starter_changes, self.repository)
        if documents or gone:
            try:
                await self.upsert(
                    DISEASE_STORE, documents, delete=gone, only_if_missing=create, refresh=False
                )
            except DependencyUnavailable:
                if not create:
                    self.starter_pending = True  # serve the copy this host has meanwhile
                    return
                await asyncio.to_thread(
                    self.indexer.upsert, DISEASE_STORE, documents, delete=gone, only_if_missing=True
                )
                self.starter_pending = True  # written through the database once it answers
                return
        self.starter_pending = False
        await asyncio.to_thread(mark_starter_checked, self.repository, cache_dir)

    def _only_here(self, store: str) -> bool:
        """The store is on this host alone (written before, or without, the database)."""
        return self.repository.current_version(store) is not None and not self.repository.info(store).batch_id

    # --- writes (every replica sees them: replication.py) ----------------------------------

    async def upsert(
        self,
        store: str,
        documents: Sequence[Document],
        *,
        delete: Iterable[str] = (),
        only_if_missing: bool = False,
        refresh: bool = True,
    ) -> StoreInfo:
        if self.replication is not None:
            info = await self.replication.upsert(
                store, documents, delete=delete, only_if_missing=only_if_missing
            )
        else:
            info = await asyncio.to_thread(
                self.indexer.upsert, store, documents, delete=delete, only_if_missing=only_if_missing
            )
        if refresh:
            await self.refresh()
        return info

    async def delete_document(self, store: str, doc_id: str) -> StoreInfo:
        if self.replication is not None:
            info = await self.replication.delete_document(store, doc_id)
        else:
            info = await asyncio.to_thread(self.indexer.delete_document, store, doc_id)
        await self.refresh()
        return info

    async def delete_store(self, store: str) -> None:
        if self.replication is not None:
            await self.replication.delete_store(store)
        else:
            await asyncio.to_thread(self.indexer.delete_store, store)
        await self.refresh()

    async def refresh_graph(self) -> None:
        """Re-read the live stores; rebuild the graph and the extractor when any has a new version."""
        self.store_infos = await asyncio.to_thread(self.repository.list_stores)
        versions = {info.name: info.version for info in self.store_infos}
        if versions == self.graph_versions:
            return
        graph, extractor, origin = await asyncio.to_thread(
            load_snapshot, self.repository, versions, self.settings.cache_dir
        )
        # Swapped together, so a request sees one consistent graph, extractor and origin map.
        self.graph, self.extractor, self.record_store = graph, extractor, origin
        self.graph_versions = versions
        log.info("knowledge graph ready", extra={"stores": len(versions), **graph.stats()})

    async def refresh(self) -> None:
        await self.stores.refresh_versions()
        await self.refresh_graph()

    async def current_generation(self) -> str:
        """The knowledge base's generation now, after catching up with it when it changed.

        Caches key on this, so an answer cached under a generation was computed from that
        generation's stores, and an update is seen by the very next request in every worker. The
        key names the stores' content (versions and batch ids), not this host's files, so replicas
        holding the same knowledge share their cached answers in Redis, and only those."""
        # A stat() of a local file, on the loop: a thread hop would cost more than a cached answer.
        generation = self.repository.generation()
        if generation != self.generation:
            async with self._generation_lock:  # concurrent requests catch up once
                if generation != self.generation:
                    await self.refresh()
                    self.generation = generation
                    self.knowledge_key = content_key(self.store_infos)
        return self.knowledge_key

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                if self.starter_pending and self.replication is not None:
                    await self.ensure_starter()
                await self.refresh()
            except Exception as exc:  # a transient file error must not end the refresher
                log.warning("knowledge refresh failed", extra={"error": type(exc).__name__})

    # --- queries ---------------------------------------------------------------------------

    async def extract(self, text: str) -> list[ExtractedEntity]:
        extractor = self.extractor
        return await asyncio.to_thread(extractor.extract, text)

    async def search(self, query: str, stores: Sequence[str] | None, top_k: int) -> list[Hit]:
        """The best `top_k` passages (see `retrieve`)."""
        return (await self.retrieve(query, stores, top_k)).hits

    async def retrieve(self, query: str, stores: Sequence[str] | None, top_k: int) -> Retrieval:
        """Search the stores and merge; a missing store named by the caller is an error.

        Without named stores, every store that can match the question's script is searched: terms
        never match across scripts, so an English-only store cannot answer a Chinese question.
        With an embedding model, the question's vector is fused with the lexical results; if the
        model fails, the lexical results answer alone and the retrieval says it is degraded.
        """
        if stores:
            names = list(stores)
        else:
            chinese = CJK.search(query) is not None
            infos = self.store_infos
            names = [
                info.name
                for info in infos
                if (info.cjk_share >= MIN_SCRIPT_SHARE if chinese else info.cjk_share <= 1 - MIN_SCRIPT_SHARE)
            ]
        loaded = [
            store for name in names if (store := await self._load(name, required=bool(stores))) is not None
        ]
        vector: Vectors | None = None
        degraded = False
        if self.embedder is not None and any(store.dense is not None for store in loaded):
            try:
                vector = await self.embedder.embed(query)
            except EmbeddingUnavailable:
                EMBEDDING_FAILURES.labels(self.service).inc()
                degraded = True
        started = time.perf_counter()
        extractor = self.extractor
        settings = self.settings
        # One trip to the thread pool for every store: a hop costs about as much as a small search.
        hits = await asyncio.to_thread(_search_all, loaded, extractor, query, vector, top_k, settings)
        SEARCH_DURATION.labels(self.service).observe(time.perf_counter() - started)
        return Retrieval(hits, degraded)

    async def _load(self, name: str, *, required: bool) -> StoreSearcher | None:
        """A store to search; a store this worker still lists but another just deleted is skipped,
        unless the caller asked for it by name (then it is their 404)."""
        try:
            return await self.stores.get(name)
        except StoreNotFound:
            if required:
                raise
            return None

    async def ready(self) -> None:
        if self.graph_versions is None:
            raise StoreNotFound(DISEASE_STORE)
        await self.stores.get(DISEASE_STORE)


# A passage of the disease the question names ("高血压的并发症") ranks before other records' passages
# that merely mention it (IgA肾病's complications list 高血压).
NAMED_DISEASE_BOOST = 1.3


def synonyms(entities: list[ExtractedEntity], query: str) -> list[str]:
    """The graph's names for the everyday words of the question (发烧 -> 发热): they expand it."""
    return [e.name for e in entities if e.surface != e.name and e.name not in query]


def _search_all(
    stores: list[StoreSearcher],
    extractor: EntityExtractor,
    query: str,
    vector: Vectors | None,
    top_k: int,
    settings: Settings,
) -> list[Hit]:
    """The best `top_k` hits over the stores, merged by rank score (run in the thread pool)."""
    entities = extractor.extract(query) if stores else []
    expansion = synonyms(entities, query)
    named = {e.id for e in entities if e.type == "disease" and e.id}
    found = [
        one
        for store in stores
        for one in store.ranked(
            query,
            expansion,
            vector,
            max(top_k * 3, 20) if named else top_k,  # room for the named disease's passages to move up
            fusion=settings.fusion,
            weight=settings.fusion_lexical_weight,
            floor=settings.dense_score_floor,
        )
    ]
    # Read best first, and only while an unread candidate could still make the top_k (boosted, it
    # would beat the k-th): the same hits, in the same order, as reading and sorting them all.
    if top_k <= 0:
        return []
    order = sorted(range(len(found)), key=lambda i: found[i].rank, reverse=True)
    boost = NAMED_DISEASE_BOOST if named else 1.0
    read: list[tuple[float, int, Hit]] = []
    for i in order:
        if len(read) >= top_k and found[i].rank * boost < sorted(s for s, _, _ in read)[-top_k]:
            break
        hit = found[i].read()
        read.append((found[i].rank * (NAMED_DISEASE_BOOST if hit.doc_id in named else 1.0), i, hit))
    read.sort(key=lambda chosen: (-chosen[0], chosen[1]))
    return [hit for _, _, hit in read[:top_k]]
