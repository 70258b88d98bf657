"""What a knowledge store holds: documents, and the chunks they are cut into for retrieval."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from backend.core.text import CleanText

STORE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
StoreName = Annotated[str, Field(pattern=STORE_NAME.pattern)]

# Chinese sentences end in 。！？；, not in ". ", so the splitter tries those before giving up.
_SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", ". ", "! ", "? ", "，", ", ", " ", ""]
CHUNK_SIZE = 500
CHUNK_OVERLAP = 60


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=DOC_ID.pattern, description="Unique within its store; re-importing replaces it")
    title: CleanText = Field(min_length=1, max_length=300)
    text: CleanText = Field(min_length=1, max_length=200_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Chunk(BaseModel):
    doc_id: str
    title: str
    text: str
    position: int  # index of the chunk within its document
    metadata: dict[str, Any] = Field(default_factory=dict)


@lru_cache(maxsize=1)
def _splitter() -> Any:
    # Imported on first write: the serving workers only read stores and need not carry it.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
        keep_separator="end",
        strip_whitespace=True,
    )


def chunk_document(document: Document) -> list[Chunk]:
    """Cut a document into retrieval chunks; each keeps its document id, title and metadata."""
    text = document.text
    pieces = [text] if len(text) <= CHUNK_SIZE else _splitter().split_text(text)
    return [
        Chunk(doc_id=document.id, title=document.title, text=piece, position=i, metadata=document.metadata)
        for i, piece in enumerate(p for p in pieces if p.strip())
    ]


def valid_store_name(name: str) -> bool:
    return bool(STORE_NAME.match(name))
