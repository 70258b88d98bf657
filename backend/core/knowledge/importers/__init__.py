"""Readers that turn files in known formats into Documents for a knowledge store.

Each reader is a generator over one path that yields a Document per good record and a RowError
per record it skipped, and never raises for bad data. FORMATS maps the names the CLI (and any
upload endpoint) accept to the readers.
"""

from __future__ import annotations

from backend.core.knowledge.importers.base import Item, Reader, RowError
from backend.core.knowledge.importers.csvfile import read_csv
from backend.core.knowledge.importers.health39 import read_health39
from backend.core.knowledge.importers.jsonl import read_jsonl
from backend.core.knowledge.importers.langchain_faiss import read_langchain_faiss
from backend.core.knowledge.importers.medquad import read_medquad
from backend.core.knowledge.importers.text import read_text

FORMATS: dict[str, Reader] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "health39": read_health39,
    "medquad": read_medquad,
    "text": read_text,
    "langchain-faiss": read_langchain_faiss,
}

# Formats whose reading can be abused by a crafted file (pickle): only for paths the operator trusts,
# and only when asked for explicitly (the CLI's --allow-pickle).
UNSAFE_FORMATS = frozenset({"langchain-faiss"})

__all__ = [
    "FORMATS",
    "UNSAFE_FORMATS",
    "Item",
    "Reader",
    "RowError",
    "read_csv",
    "read_health39",
    "read_jsonl",
    "read_langchain_faiss",
    "read_medquad",
    "read_text",
]
