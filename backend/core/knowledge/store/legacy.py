"""Stores written by the hashed-embedding release (CURRENT naming `v000007`): read back as documents.

`python -m backend.cli kb rebuild` turns each into the batch layout. A disease document is rebuilt
from the record its chunks carried (so it is chunked by field); another is its chunks joined, the
splitter's overlap between neighbours removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from backend.core.knowledge.store.documents import Document

OVERLAP_MAX = 200


def legacy_documents(store_dir: Path) -> Iterator[Document]:
    from backend.core.knowledge.graph.diseases import DiseaseRecord

    version = (store_dir / "CURRENT").read_text().strip()
    rows: dict[str, list[dict[str, Any]]] = {}
    with (store_dir / version / "chunks.jsonl").open("rb") as source:
        for line in source:
            row = orjson.loads(line)
            rows.setdefault(row["doc_id"], []).append(row)
    for doc_id, chunks in rows.items():
        chunks.sort(key=lambda row: row["position"])
        metadata = chunks[0].get("metadata") or {}
        if metadata.get("kind") == "disease":
            yield DiseaseRecord.model_validate({**metadata, "id": doc_id}).to_document()
            continue
        text = chunks[0]["text"]
        for row in chunks[1:]:
            text += _without_overlap(text, row["text"])
        yield Document(id=doc_id, title=chunks[0]["title"], text=text, metadata=metadata)


def _without_overlap(before: str, after: str) -> str:
    for size in range(min(OVERLAP_MAX, len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[size:]
    return "\n" + after


def set_aside(store_dir: Path) -> Path:
    """Move the legacy store out of the way (kept until the rebuilt one is written)."""
    target = store_dir.with_name(f".legacy-{store_dir.name}")
    shutil.rmtree(target, ignore_errors=True)
    store_dir.rename(target)
    return target
