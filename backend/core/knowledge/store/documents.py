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
HEAD_LINES = ("别名", "就诊科室")  # a disease document's identity lines, kept with its first section
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


def _pieces(text: str) -> list[str]:
    return [text] if len(text) <= CHUNK_SIZE else _splitter().split_text(text)


def chunk_document(document: Document) -> list[Chunk]:
    """Cut a document into retrieval chunks; each keeps its document id, title and metadata.

    A structured disease record (metadata kind "disease", rendered one "heading：text" line per
    field by DiseaseRecord.to_document) is cut by field, so a hit is the part that answers: its
    symptoms, its treatment... Each such chunk carries only {"kind", "section"}: the record itself
    is stored once, with the store's records (repository.py), not in every passage."""
    if document.metadata.get("kind") == "disease":
        return _chunk_sections(document)
    return [
        Chunk(doc_id=document.id, title=document.title, text=piece, position=i, metadata=document.metadata)
        for i, piece in enumerate(p for p in _pieces(document.text) if p.strip())
    ]


def _chunk_sections(document: Document) -> list[Chunk]:
    chunks: list[Chunk] = []
    head: list[str] = []  # the title, aliases and department lines: they go with the overview
    for line in document.text.split("\n"):
        heading, colon, body = line.partition("：")
        if not colon or not body.strip() or heading in HEAD_LINES or line == document.title:
            head.append(line)
            continue
        text = "\n".join([*head, line]) if head and not chunks else line
        head = [] if not chunks or head else head
        for piece in _pieces(text):
            if piece.strip():
                metadata = {"kind": "disease", "section": heading}
                chunks.append(
                    Chunk(
                        doc_id=document.id,
                        title=document.title,
                        text=piece,
                        position=len(chunks),
                        metadata=metadata,
                    )
                )
    if not chunks:
        chunks.append(
            Chunk(
                doc_id=document.id,
                title=document.title,
                text="\n".join(head) or document.title,
                position=0,
                metadata={"kind": "disease", "section": "概述"},
            )
        )
    return chunks


def valid_store_name(name: str) -> bool:
    return bool(STORE_NAME.match(name))
