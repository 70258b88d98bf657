"""Replicas with their own knowledge directories and one database serve the same knowledge."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from backend.core.db.engine import Database, DatabaseUnavailable, create_engine
from backend.core.knowledge.replication import Replication
from backend.core.knowledge.retrieval.embeddings import model_identity
from backend.core.knowledge.service import KnowledgeService
from backend.core.knowledge.store.central import CentralStore
from backend.core.knowledge.store.models import DocumentNotFound, StoreNotFound
from tests.core.knowledge.conftest import doc, make_settings
from tests.support.fake_embeddings import FakeEmbeddings, fake_embeddings  # noqa: F401

DOCS = [
    doc("mi", "Myocardial infarction: crushing chest pain, sweating, call an ambulance."),
    doc("hf", "Heart failure causes breathlessness and swollen ankles."),
    doc("asthma", "Asthma causes wheezing and a tight chest at night."),
]

Replica = Callable[..., KnowledgeService]


@pytest_asyncio.fixture
async def replica(tmp_path: Path, database_url: str) -> AsyncIterator[Replica]:
    """Make a replica: a knowledge service on its own directory, tied to the test's database."""
    engines: list[Database] = []

    def make(name: str, **overrides: Any) -> KnowledgeService:
        settings = make_settings(tmp_path / name, database_url=database_url, **overrides)
        database = Database(create_engine(settings), settings.database_timeout)
        engines.append(database)
        central = CentralStore(database, lock_wait=5.0)
        return KnowledgeService(settings, "test", lambda indexer: Replication(indexer, central))

    yield make
    for database in engines:
        await database.engine.dispose()


async def _ids(service: KnowledgeService, query: str, store: str = "cardio") -> list[str]:
    await service.refresh()
    service.store_infos = service.repository.list_stores()
    return [hit.doc_id for hit in await service.search(query, [store], 3)]


def _replication(service: KnowledgeService) -> Replication:
    assert service.replication is not None
    return service.replication


@pytest.mark.asyncio
async def test_a_write_on_one_replica_is_served_by_the_other_and_a_delete_there_by_both(
    replica: Replica,
) -> None:
    first, second = replica("a"), replica("b")
    await first.upsert("cardio", DOCS)
    assert await _replication(second).pull_all()
    assert (await _ids(second, "swollen ankles"))[0] == "hf"
    assert await _ids(second, "swollen ankles") == await _ids(first, "swollen ankles")

    await second.delete_document("cardio", "hf")
    await _replication(first).pull_all()
    for service in (first, second):
        assert "hf" not in await _ids(service, "swollen ankles breathlessness")
        assert service.repository.info("cardio").documents == 2

    await first.delete_store("cardio")
    await _replication(second).pull_all()
    assert second.repository.current_version("cardio") is None
    with pytest.raises(StoreNotFound):
        await second.delete_store("cardio")


@pytest.mark.asyncio
async def test_a_store_deleted_and_created_again_is_not_mistaken_for_the_old_one(replica: Replica) -> None:
    first, second = replica("a"), replica("b")
    await first.upsert("cardio", DOCS)
    await _replication(second).pull_all()
    await first.delete_store("cardio")
    info = await first.upsert(
        "cardio", [doc("new", "Pericarditis: sharp chest pain easing when leaning forward.")]
    )
    assert info.version == 2  # the sequence goes on: no replica holds another version 1 of it
    await _replication(second).pull_all()
    assert await _ids(second, "chest pain") == ["new"]
    assert second.repository.info("cardio").documents == 1


@pytest.mark.asyncio
async def test_a_replica_started_empty_serves_every_store_without_embedding_a_passage_again(
    replica: Replica,
    fake_embeddings: FakeEmbeddings,  # noqa: F811
) -> None:
    fake_embeddings.concepts = [["heart attack", "myocardial infarction"]]
    dense = {
        "embedder": "openai",
        "embedding_base_url": fake_embeddings.url,
        "embedding_model": "fake-e5",
    }
    writer = replica("a", **dense)
    await writer.start()  # writes the starter store
    before = len(fake_embeddings.requests)
    await writer.upsert("cardio", DOCS)
    await writer.upsert(
        "cardio", [doc("pe", "Pulmonary embolism: sudden breathlessness after a long flight.")]
    )
    assert len(fake_embeddings.requests) == before + 2  # each batch once, by the writer
    embedded = len(fake_embeddings.requests)

    empty = replica("c", **dense)
    await empty.start()
    assert len(fake_embeddings.requests) == embedded
    assert empty.repository.info("diseases") == writer.repository.info("diseases")
    identity = model_identity(empty.settings)
    assert all(empty.repository.has_embeddings("cardio", identity, v) for v in (1, 2))
    passages = len(fake_embeddings.requests)
    # Lexically only "heart" matches (heart failure); the stored vectors know a heart attack.
    assert "mi" in (await _ids(empty, "heart attack"))[:2]
    assert len(fake_embeddings.requests) == passages + 1  # only the question was embedded


@pytest.mark.asyncio
async def test_a_write_that_fails_midway_leaves_the_store_as_it_was_everywhere(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = replica("a"), replica("b")
    await first.upsert("cardio", DOCS)
    await _replication(second).pull_all()
    original = CentralStore.commit

    async def commit_then_fail(*args: Any, **kwargs: Any) -> None:
        await original(*args, **kwargs)  # every row written, then the writer dies before COMMIT
        raise ConnectionResetError("writer gone")

    monkeypatch.setattr(CentralStore, "commit", staticmethod(commit_then_fail))
    with pytest.raises(DatabaseUnavailable):  # a 503 to whoever asked
        await first.upsert("cardio", [doc("pe", "Pulmonary embolism: sudden breathlessness.")])
    monkeypatch.setattr(CentralStore, "commit", original)
    await _replication(second).pull_all()
    for service in (first, second):
        assert service.repository.info("cardio").version == 1
        assert "pe" not in await _ids(service, "pulmonary embolism breathlessness")
    with pytest.raises(DocumentNotFound):
        await first.delete_document("cardio", "pe")


@pytest.mark.asyncio
async def test_writes_from_two_replicas_to_one_store_take_turns(replica: Replica) -> None:
    first, second = replica("a"), replica("b")
    await first.upsert("cardio", DOCS[:1])
    writes = [
        service.upsert("cardio", [doc(f"{name}-{n}", f"note {n} about chest pain from {name}")])
        for n in range(4)
        for name, service in (("a", first), ("b", second))
    ]
    versions = sorted(info.version for info in await asyncio.gather(*writes))
    assert versions == list(range(2, 10))  # none lost, none applied on a stale copy
    for service in (first, second):
        await _replication(service).pull_all()
        assert service.repository.info("cardio").documents == 9


@pytest.mark.asyncio
async def test_a_store_written_before_the_database_is_adopted_with_its_documents(
    replica: Replica, tmp_path: Path
) -> None:
    old = replica("a")
    long_text = "Chest pain. " + " ".join(f"Sentence {n} about angina and exertion." for n in range(40))
    old.indexer.upsert("cardio", [*DOCS, doc("angina", long_text)])  # this host's alone
    other = replica("b")
    await _replication(other).pull_all()
    assert other.repository.current_version("cardio") is None  # not in the database yet

    adopted = await _replication(old).adopt("cardio")
    assert adopted is not None
    assert adopted.batch_id
    await _replication(other).pull_all()
    assert await _ids(other, "swollen ankles") == await _ids(old, "swollen ankles")
    exported = {d.id: d for d in [d async for d in _replication(old).central.export("cardio")]}
    assert exported["angina"].text == long_text  # put back together from its overlapping chunks
    assert exported["hf"].text == DOCS[1].text


@pytest.mark.asyncio
async def test_a_worker_starting_just_after_a_pull_on_its_host_leaves_the_next_one_to_its_follower(
    replica: Replica,
) -> None:
    first = replica("a")
    await first.start()
    await _replication(first).pull_all()  # one worker of this host has just pulled
    later = replica("a")  # another worker of the same host, starting now

    async def no_database() -> None:
        raise AssertionError("asked the database as it started")

    _replication(later).central.heads = no_database  # type: ignore[method-assign,assignment]
    await later.start()
    assert later.store_infos == first.store_infos
    assert _replication(later).pulled_recently()

    marker = first.repository.root / "pulled"
    os.utime(marker, (time.time() - 60, time.time() - 60))
    assert not _replication(first).pulled_recently()  # a host idle for longer pulls as it starts
