"""The loaded stores of one worker: an LRU bounded by VECTOR_STORE_CACHE_SIZE.

- Concurrent first requests for a store share one load (single flight); a failed load reaches
  every waiter as that error, is not cached, and the next request tries again.
- Loads, version checks and searches run in the worker's bounded thread pool; searches hold no
  lock (tantivy searchers and FAISS CPU search are thread-safe), so one store serves many at once.
- Writes publish a new version (repository.py); KnowledgeService's refresher notices it within a
  second and the next request loads the new version, in every worker and instance that shares
  the knowledge directory.
- An evicted store is dropped from the cache; its memory is freed once the last search using it
  returns (the index is memory-mapped, so what remains is shared page cache).

All bookkeeping happens on the event loop between awaits, which is what guards it: no thread
touches these dicts.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from backend.core.knowledge.metrics import STORE_EVICTIONS, STORE_LOAD_FAILURES, STORE_LOADS, STORES_LOADED
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.store.repository import KnowledgeRepository, StoreNotFound
from backend.core.logging import get_logger

log = get_logger("knowledge")


class StoreCache:
    def __init__(
        self, repository: KnowledgeRepository, capacity: int, service: str, identity: str = ""
    ) -> None:
        self._repository = repository
        self._identity = identity  # the embedding model whose stored vectors dense search uses
        self._capacity = capacity
        self._service = service
        self._stores: OrderedDict[str, StoreSearcher] = OrderedDict()
        self._loading: dict[tuple[str, int], asyncio.Future[StoreSearcher]] = {}
        self._versions: dict[str, int] = {}  # last known live version of each cached store

    @property
    def loaded(self) -> list[str]:
        return list(self._stores)

    async def get(self, name: str) -> StoreSearcher:
        version = self._versions.get(name)
        if version is None:
            version = await asyncio.to_thread(self._repository.current_version, name)
            if version is None:
                raise StoreNotFound(name)
        store = self._stores.get(name)
        if store is not None and store.version == version:
            self._stores.move_to_end(name)
            return store
        try:
            return await self._load(name, version)
        except FileNotFoundError:
            # That version was superseded and pruned between reading CURRENT and loading it.
            latest = await asyncio.to_thread(self._repository.current_version, name)
            if latest is None or latest == version:
                raise
            return await self._load(name, latest)

    async def _load(self, name: str, version: int) -> StoreSearcher:
        key = (name, version)
        future = self._loading.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._loading[key] = future
            asyncio.get_running_loop().create_task(self._lead_load(name, version, future))
        # shield: one waiter giving up (client gone) must not cancel the load for the others.
        return await asyncio.shield(future)

    async def _lead_load(self, name: str, version: int, future: asyncio.Future[StoreSearcher]) -> None:
        try:
            store = await asyncio.to_thread(self._open, name, version)
        except Exception as exc:
            STORE_LOAD_FAILURES.labels(self._service).inc()
            log.warning("store load failed", extra={"store": name, "error": type(exc).__name__})
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited failure is not reported twice
        else:
            STORE_LOADS.labels(self._service).inc()
            self._stores[name] = store
            self._stores.move_to_end(name)
            self._versions[name] = version
            while len(self._stores) > self._capacity:
                evicted, _ = self._stores.popitem(last=False)
                self._versions.pop(evicted, None)
                STORE_EVICTIONS.labels(self._service).inc()
            STORES_LOADED.labels(self._service).set(len(self._stores))
            future.set_result(store)
        finally:
            del self._loading[(name, version)]

    def _open(self, name: str, version: int) -> StoreSearcher:
        # The searcher's version is the batch its lexical snapshot shows: while the writer is still
        # indexing the live batch it is one behind, and the next request opens the store again.
        return StoreSearcher(self._repository, self._repository.info(name), self._identity)

    def forget(self, name: str) -> None:
        self._stores.pop(name, None)
        self._versions.pop(name, None)
        STORES_LOADED.labels(self._service).set(len(self._stores))

    async def refresh_versions(self) -> None:
        """Re-read the live version of every cached store (file reads, in the thread pool)."""
        names = list(self._stores)
        versions = await asyncio.to_thread(lambda: [self._repository.current_version(n) for n in names])
        for name, version in zip(names, versions, strict=True):
            if version is None:
                self.forget(name)
            else:
                self._versions[name] = version
