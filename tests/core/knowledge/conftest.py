"""Fixtures of the knowledge-layer tests: a repository on a temporary knowledge directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.core.config import Settings
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, **overrides})


@pytest.fixture
def repository(tmp_path: Path) -> KnowledgeRepository:
    return KnowledgeRepository(make_settings(tmp_path))


def doc(doc_id: str, text: str, title: str | None = None) -> Document:
    return Document(id=doc_id, title=title or doc_id, text=text)
