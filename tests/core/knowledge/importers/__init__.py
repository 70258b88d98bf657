"""Tests of the knowledge-base importers; helpers shared by them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from backend.core.knowledge.importers import RowError
from backend.core.knowledge.store.documents import Document

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "kb"


def split(items: Iterable[Document | RowError]) -> tuple[list[Document], list[RowError]]:
    """Documents and errors of one read, each in the order the reader yielded them."""
    documents: list[Document] = []
    errors: list[RowError] = []
    for item in items:
        if isinstance(item, RowError):
            errors.append(item)
        else:
            documents.append(item)
    return documents, errors
