"""Dense retrieval fused with the lexical index, against a fake OpenAI-compatible embeddings server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backend.core.knowledge.retrieval.embeddings import model_identity
from backend.core.knowledge.service import KnowledgeService
from tests.core.knowledge.conftest import doc, make_settings
from tests.support.fake_embeddings import FakeEmbeddings, fake_embeddings  # noqa: F401

DOCS = [
    doc("mi", "Myocardial infarction: crushing chest pain, sweating, call an ambulance."),
    doc("hf", "Heart failure causes breathlessness and swollen ankles."),
    doc("asthma", "Asthma causes wheezing."),
]


def _service(tmp_path: Path, fake: FakeEmbeddings, **overrides: object) -> KnowledgeService:
    fake.concepts = [["heart attack", "myocardial infarction"], ["asthma", "wheez"]]
    settings = make_settings(
        tmp_path,
        embedder="openai",
        embedding_base_url=fake.url,
        embedding_model="fake-e5",
        embedding_timeout=0.5,
        embedding_breaker_failures=2,
        **overrides,
    )
    service = KnowledgeService(settings, "test")
    service.indexer.upsert("cardio", DOCS)
    return service


def _ids(service: KnowledgeService, query: str) -> tuple[list[str], bool]:
    async def run() -> tuple[list[str], bool]:
        service.store_infos = service.repository.list_stores()
        found = await service.retrieve(query, ["cardio"], 3)
        return [hit.doc_id for hit in found.hits], found.degraded

    return asyncio.run(run())


def test_dense_finds_what_shares_no_word_and_embeddings_are_stored_once(
    tmp_path: Path,
    fake_embeddings: FakeEmbeddings,  # noqa: F811
) -> None:
    service = _service(tmp_path, fake_embeddings)
    passage_calls = len(fake_embeddings.requests)
    assert passage_calls == 1  # one batch of passages
    assert service.repository.has_embeddings("cardio", model_identity(service.settings), 1)
    ids, degraded = _ids(service, "heart attack")
    assert not degraded
    # Lexically only "heart" matches, and that is heart failure; the model knows a heart attack.
    assert set(ids[:2]) == {"mi", "hf"}
    # The question was embedded; the passages were not embedded again.
    questions = fake_embeddings.requests[passage_calls:]
    assert questions
    assert all(len(r["input"]) == 1 for r in questions)
    service.indexer.upsert("cardio", [doc("new", "Angina is chest pain on exertion.")])
    assert all(r["input"] != [f"{d.title}\n{d.text}" for d in DOCS] for r in fake_embeddings.requests[-1:])


@pytest.mark.parametrize("mode", ["error", "garbage", "slow"])
def test_when_the_embedding_server_fails_lexical_results_answer_degraded(
    tmp_path: Path,
    fake_embeddings: FakeEmbeddings,  # noqa: F811
    mode: str,
) -> None:
    service = _service(tmp_path, fake_embeddings)
    fake_embeddings.mode = mode  # type: ignore[assignment]
    fake_embeddings.slow_seconds = 2
    ids, degraded = _ids(service, "heart attack")
    assert degraded
    assert ids == ["hf"]  # what the lexical index alone finds


def test_the_breaker_stops_calling_a_failing_server(
    tmp_path: Path,
    fake_embeddings: FakeEmbeddings,  # noqa: F811
) -> None:
    service = _service(tmp_path, fake_embeddings)
    fake_embeddings.mode = "error"

    async def run() -> list[bool]:
        return [(await service.retrieve("heart attack", ["cardio"], 3)).degraded for _ in range(5)]

    before = len(fake_embeddings.requests)
    assert asyncio.run(run()) == [True] * 5
    assert len(fake_embeddings.requests) - before == 2  # then the breaker is open


def test_a_write_while_the_server_is_down_is_embedded_later(
    tmp_path: Path,
    fake_embeddings: FakeEmbeddings,  # noqa: F811
) -> None:
    service = _service(tmp_path, fake_embeddings)
    fake_embeddings.mode = "error"
    service.indexer.upsert("later", DOCS)  # the write succeeds: lexical now, vectors later
    identity = model_identity(service.settings)
    assert not service.repository.has_embeddings("later", identity, 1)
    fake_embeddings.mode = "ok"
    assert service.indexer.sync("later") is True
    assert service.repository.has_embeddings("later", identity, 1)
