"""Stores are written as whole new versions: same id replaces, failures leave the old one live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.core.knowledge.retrieval.embeddings import EmbedderMismatch, HashingEmbeddings
from backend.core.knowledge.retrieval.vector_store import LoadedStore
from backend.core.knowledge.store.documents import Document, chunk_document
from backend.core.knowledge.store.repository import (
    DocumentNotFound,
    InvalidStoreName,
    KnowledgeRepository,
    StoreNotFound,
)
from tests.core.knowledge.conftest import doc, make_settings


def _search(repository: KnowledgeRepository, store: str, query: str) -> list[str]:
    version = repository.current_version(store)
    assert version is not None
    loaded = LoadedStore(repository.version_dir(store, version), repository.new_embedder())
    return [hit.doc_id for hit in loaded.search(loaded.embed_query(query), 3)]


def test_upsert_then_search_finds_the_document(repository: KnowledgeRepository) -> None:
    info = repository.upsert(
        "guidelines",
        [
            doc("g1", "高血压患者应限制食盐摄入，规律监测血压。"),
            doc("g2", "Asthma action plans help patients recognise worsening symptoms early."),
            doc("g3", "糖尿病患者应定期检查眼底和肾功能。"),
        ],
    )
    assert (info.version, info.documents, info.index_type) == (1, 3, "flat")
    assert _search(repository, "guidelines", "高血压 食盐")[0] == "g1"
    assert _search(repository, "guidelines", "asthma action plan")[0] == "g2"


def test_same_id_replaces_instead_of_duplicating(repository: KnowledgeRepository) -> None:
    repository.upsert("s", [doc("a", "旧的内容：感冒多休息"), doc("b", "其他内容")])
    info = repository.upsert("s", [doc("a", "新的内容：流感需要隔离")])
    assert (info.version, info.documents) == (2, 2)
    version_dir = repository.version_dir("s", 2)
    texts = [json.loads(line)["text"] for line in (version_dir / "chunks.jsonl").read_text().splitlines()]
    assert "新的内容：流感需要隔离" in texts
    assert not any("旧的内容" in text for text in texts)


def test_long_documents_are_chunked_and_chunks_keep_their_document(repository: KnowledgeRepository) -> None:
    long_text = "。".join(f"第{i}句讲的是慢性胃炎的饮食调理和规律作息" for i in range(200))
    chunks = chunk_document(Document(id="long", title="慢性胃炎", text=long_text))
    assert len(chunks) > 3
    assert {c.doc_id for c in chunks} == {"long"}
    assert all(len(c.text) <= 500 for c in chunks)
    info = repository.upsert("s", [Document(id="long", title="慢性胃炎", text=long_text)])
    assert info.chunks == len(chunks)


def test_delete_document_and_store(repository: KnowledgeRepository) -> None:
    repository.upsert("s", [doc("a", "感冒"), doc("b", "发热")])
    assert repository.delete_document("s", "a").documents == 1
    with pytest.raises(DocumentNotFound):
        repository.delete_document("s", "a")
    repository.delete_store("s")
    assert repository.current_version("s") is None
    assert repository.list_stores() == []
    with pytest.raises(StoreNotFound):
        repository.delete_store("s")


def test_a_failed_write_leaves_the_live_version_untouched(
    repository: KnowledgeRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository.upsert("s", [doc("a", "感冒")])

    def broken_embed(self: HashingEmbeddings, texts: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(HashingEmbeddings, "embed_array", broken_embed)
    with pytest.raises(RuntimeError):
        repository.upsert("s", [doc("b", "发热")])
    monkeypatch.undo()
    assert repository.current_version("s") == 1
    assert repository.info("s").documents == 1
    assert not list(repository.store_dir("s").glob(".staging-*"))


def test_only_two_versions_are_kept(repository: KnowledgeRepository) -> None:
    for i in range(4):
        repository.upsert("s", [doc(f"d{i}", f"内容{i}")])
    assert sorted(p.name for p in repository.store_dir("s").glob("v*")) == ["v000003", "v000004"]


def test_store_names_are_validated(repository: KnowledgeRepository) -> None:
    for bad in ("../etc", "UPPER", "", "a/b", "x" * 65):
        with pytest.raises(InvalidStoreName):
            repository.upsert(bad, [doc("a", "x")])


def test_a_store_refuses_another_embedder(tmp_path: Path) -> None:
    KnowledgeRepository(make_settings(tmp_path, embedding_dim=256)).upsert("s", [doc("a", "感冒")])
    other = KnowledgeRepository(make_settings(tmp_path, embedding_dim=512))
    with pytest.raises(EmbedderMismatch, match="hashing-v1/dim=256"):
        LoadedStore(other.version_dir("s", 1), other.new_embedder())


def test_large_stores_use_hnsw(tmp_path: Path) -> None:
    repository = KnowledgeRepository(make_settings(tmp_path, exact_index_max_vectors=50, embedding_dim=256))
    documents = [doc(f"d{i}", f"第{i}号文档 关于疾病{i % 17} 的描述") for i in range(120)]
    info = repository.upsert("big", documents)
    assert info.index_type == "hnsw"
    assert _search(repository, "big", "第7号文档 关于疾病7 的描述")[0] == "d7"


def test_embedding_is_deterministic_and_fast() -> None:
    import time

    corpus = ["高血压的症状", "asthma symptoms", "糖尿病饮食"]
    embedder, again = HashingEmbeddings(2048), HashingEmbeddings(2048)
    embedder.fit(corpus)
    again.fit(corpus)
    first = embedder.embed_array(["高血压有哪些症状？"])
    assert (first == again.embed_array(["高血压有哪些症状？"])).all()
    assert abs(float((first @ first.T)[0, 0]) - 1.0) < 1e-5
    started = time.perf_counter()
    for _ in range(200):
        embedder.embed_array(["高血压有哪些症状？What are the symptoms of hypertension?"])
    assert (time.perf_counter() - started) / 200 < 0.002  # well under a millisecond here; slack for CI
