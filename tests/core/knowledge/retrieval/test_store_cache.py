"""The per-worker store LRU: one load for many first requests, errors reach every waiter, no hang;
searches while a writer publishes batch after batch never fail and never mix batches."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from pathlib import Path

import pytest

from backend.core.knowledge.retrieval import store_cache as store_cache_module
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.retrieval.store_cache import StoreCache
from backend.core.knowledge.store.repository import KnowledgeRepository, StoreNotFound
from tests.core.knowledge.conftest import doc


def test_many_concurrent_first_requests_load_once(
    repository: KnowledgeRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    Indexer(repository).upsert("s", [doc("a", "感冒")])
    loads = 0
    real = StoreSearcher

    def slow_load(*args: object) -> StoreSearcher:
        nonlocal loads
        loads += 1
        time.sleep(0.2)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_cache_module, "StoreSearcher", slow_load)
    cache = StoreCache(repository, 4, "test")

    async def scenario() -> set[int]:
        stores = await asyncio.gather(*(cache.get("s") for _ in range(50)))
        return {id(store) for store in stores}

    assert len(asyncio.run(scenario())) == 1
    assert loads == 1


def test_a_failed_load_reaches_every_waiter_and_is_retried_later(
    repository: KnowledgeRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    Indexer(repository).upsert("s", [doc("a", "感冒")])
    attempts = 0
    real = StoreSearcher

    def flaky_load(*args: object) -> StoreSearcher:
        nonlocal attempts
        attempts += 1
        time.sleep(0.1)
        if attempts == 1:
            raise OSError("index unreadable")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store_cache_module, "StoreSearcher", flaky_load)
    cache = StoreCache(repository, 4, "test")

    async def scenario() -> tuple[list[BaseException | StoreSearcher], StoreSearcher]:
        first = await asyncio.wait_for(
            asyncio.gather(*(cache.get("s") for _ in range(10)), return_exceptions=True), timeout=5
        )
        return first, await cache.get("s")

    first, later = asyncio.run(scenario())
    assert all(isinstance(result, OSError) for result in first)
    assert isinstance(later, real)
    assert attempts == 2


def test_unknown_store_is_an_error_not_a_hang(repository: KnowledgeRepository) -> None:
    cache = StoreCache(repository, 4, "test")
    with pytest.raises(StoreNotFound):
        asyncio.run(asyncio.wait_for(cache.get("nope"), timeout=5))


def test_lru_evicts_and_frees_the_evicted_store(repository: KnowledgeRepository) -> None:
    for name in ("a", "b", "c"):
        Indexer(repository).upsert(name, [doc("x", f"{name} 的内容")])
    cache = StoreCache(repository, 2, "test")

    async def scenario() -> weakref.ref[StoreSearcher]:
        first = weakref.ref(await cache.get("a"))
        await cache.get("b")
        await cache.get("c")
        return first

    evicted = asyncio.run(scenario())
    gc.collect()
    assert cache.loaded == ["b", "c"]
    assert evicted() is None, "the evicted store is still referenced"


def test_a_new_version_is_picked_up_after_refresh(repository: KnowledgeRepository) -> None:
    Indexer(repository).upsert("s", [doc("a", "感冒")])
    cache = StoreCache(repository, 4, "test")

    async def scenario() -> tuple[int, int, int]:
        before = (await cache.get("s")).version
        await asyncio.to_thread(Indexer(repository).upsert, "s", [doc("b", "发热")])
        still = (await cache.get("s")).version  # not yet refreshed: the cached version serves
        await cache.refresh_versions()
        return before, still, (await cache.get("s")).version

    assert asyncio.run(scenario()) == (1, 1, 2)


def test_searches_during_rebuilds_never_fail_and_never_mix_versions(
    repository: KnowledgeRepository, tmp_path: Path
) -> None:
    # Every version holds 20 documents that all carry that version's tag.
    def write(version_tag: int) -> None:
        Indexer(repository).upsert(
            "s", [doc(f"d{i}", f"版本{version_tag} 文档{i} 感冒发热") for i in range(20)]
        )

    write(0)
    cache = StoreCache(repository, 4, "test")
    stop = threading.Event()

    def writer() -> None:
        tag = 1
        while not stop.is_set():
            write(tag)
            tag += 1

    async def scenario() -> tuple[int, int]:
        searches = 0
        versions: set[int] = set()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            await cache.refresh_versions()
            store = await cache.get("s")
            versions.add(store.version)
            found = await asyncio.to_thread(store.search, "感冒发热", [], None, 20)
            hits = [hit for _, hit in found]
            tags = {hit.text.split()[0] for hit in hits}
            assert len(hits) == 20
            assert len(tags) == 1, f"one search saw several versions: {tags}"
            searches += 1
        return searches, len(versions)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        searches, versions = asyncio.run(scenario())
        assert searches > 10
        assert versions > 2, "the writer should have published several versions meanwhile"
    finally:
        stop.set()
        thread.join()
