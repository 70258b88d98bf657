"""Knowledge stores: search, list, add or replace documents, delete documents and stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from backend.core.cache.tiered import Computed, normalise
from backend.core.deps import CacheDep, KnowledgeDep
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.knowledge.retrieval.hits import Hit
from backend.core.knowledge.store.documents import DOC_ID, STORE_NAME, Document, StoreName
from backend.core.knowledge.store.repository import DocumentNotFound, StoreInfo, StoreNotFound
from backend.core.schemas import StrictModel
from backend.core.text import CleanText
from backend.doctor.deps import AdminDep, AuthDep

StorePath = Annotated[str, Path(pattern=STORE_NAME.pattern)]
DocIdPath = Annotated[str, Path(pattern=DOC_ID.pattern)]


@contextmanager
def _as_404() -> Iterator[None]:
    """The repository's "no such store / document" as the API's 404."""
    try:
        yield
    except StoreNotFound as exc:
        raise AppError(404, f"Knowledge store not found: {exc}") from None
    except DocumentNotFound as exc:
        raise AppError(404, f"Document not found: {exc}") from None


router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"], responses=ERROR_RESPONSES)
rate_limited(router, "default")


class SearchRequest(StrictModel):
    query: CleanText = Field(min_length=1, max_length=500)
    stores: list[StoreName] | None = Field(None, max_length=10)
    top_k: int = Field(5, ge=1, le=50)


class SearchResponse(BaseModel):
    hits: list[Hit]


class DocumentsRequest(StrictModel):
    documents: list[Document] = Field(min_length=1, max_length=1000)


class StoresResponse(BaseModel):
    stores: list[StoreInfo]


@router.post("/search", summary="Passages most similar to the query, across stores")
async def search(body: SearchRequest, knowledge: KnowledgeDep, cache: CacheDep) -> SearchResponse:
    async def compute() -> Computed:
        hits = await knowledge.search(body.query, body.stores, body.top_k)
        return Computed([asdict(hit) for hit in hits], empty=not hits)

    parts = [normalise(body.query), sorted(body.stores or []), body.top_k]
    with _as_404():
        hits, _ = await cache.get_or_compute("retrieval", parts, compute)
    return SearchResponse(hits=hits)


@router.get("/stores", summary="Every store with its version, size and index type")
async def list_stores(knowledge: KnowledgeDep) -> StoresResponse:
    return StoresResponse(stores=await asyncio.to_thread(knowledge.repository.list_stores))


class DocumentSummary(BaseModel):
    id: str
    title: str


class DocumentsPage(BaseModel):
    documents: list[DocumentSummary]
    total: int


class StoredDocument(BaseModel):
    store: str
    id: str
    title: str
    metadata: dict[str, Any]
    passages: list[str]  # the document's chunks in order, as search and answers cite them


@router.get("/stores/{store}/documents", summary="The documents of a store, in store order")
async def list_documents(
    store: StorePath,
    knowledge: KnowledgeDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DocumentsPage:
    with _as_404():
        found, total = await asyncio.to_thread(knowledge.repository.list_documents, store, offset, limit)
    return DocumentsPage(documents=[DocumentSummary(id=i, title=t) for i, t in found], total=total)


@router.get("/stores/{store}/documents/{doc_id}", summary="One document, passage by passage")
async def read_document(store: StorePath, doc_id: DocIdPath, knowledge: KnowledgeDep) -> StoredDocument:
    with _as_404():
        chunks = await asyncio.to_thread(knowledge.repository.read_document, store, doc_id)
    first = chunks[0]
    metadata = dict(first.metadata)
    metadata.pop("field", None)  # a disease's passages are its fields; the document is the record
    if metadata.get("kind") == "disease" and (record := knowledge.graph.record(doc_id)) is not None:
        metadata = {"kind": "disease", **record.model_dump(exclude={"id"})}
    return StoredDocument(
        store=store,
        id=doc_id,
        title=first.title,
        metadata=metadata,
        passages=[chunk.text for chunk in chunks],
    )


@router.post(
    "/stores/{store}/documents",
    summary="Add documents (same id replaces); creates the store if needed",
    status_code=201,
)
async def add_documents(
    store: StorePath, body: DocumentsRequest, knowledge: KnowledgeDep, admin: AdminDep, auth: AuthDep
) -> StoreInfo:
    info = await knowledge.upsert(store, body.documents)
    await auth.record(admin, "kb.documents.upsert", [f"{store}/{doc.id}" for doc in body.documents])
    return info


@router.delete("/stores/{store}/documents/{doc_id}", summary="Remove one document")
async def delete_document(
    store: StorePath, doc_id: DocIdPath, knowledge: KnowledgeDep, admin: AdminDep, auth: AuthDep
) -> StoreInfo:
    with _as_404():
        info = await knowledge.delete_document(store, doc_id)
    await auth.record(admin, "kb.documents.delete", [f"{store}/{doc_id}"])
    return info


@router.delete("/stores/{store}", summary="Remove a store and all its documents", status_code=204)
async def delete_store(store: StorePath, knowledge: KnowledgeDep, admin: AdminDep, auth: AuthDep) -> None:
    with _as_404():
        await knowledge.delete_store(store)
    await auth.record(admin, "kb.store.delete", [store])
