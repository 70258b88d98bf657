"""The medical knowledge graph: entities in a text, and a disease's card with its relations."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from backend.core.cache.tiered import Computed
from backend.core.deps import CacheDep, KnowledgeDep
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.knowledge.graph.entities import ExtractedEntity
from backend.core.text import CleanText

router = APIRouter(prefix="/api/v1/kg", tags=["knowledge graph"], responses=ERROR_RESPONSES)
rate_limited(router, "default")


class EntitiesResponse(BaseModel):
    entities: list[ExtractedEntity]


@router.get("/entities", summary="Diseases, symptoms, drugs, checks... recognised in a text")
async def entities(
    knowledge: KnowledgeDep, cache: CacheDep, text: Annotated[CleanText, Query(min_length=1, max_length=1000)]
) -> EntitiesResponse:
    async def compute() -> Computed:
        found = await knowledge.extract(text)
        return Computed([asdict(entity) for entity in found], empty=not found)

    # The exact text: entities carry their positions in it.
    found, _ = await cache.get_or_compute("entities", [text], compute)
    return EntitiesResponse(entities=found)


@router.get("/diseases/{name}", summary="A disease card: its facts and relations")
async def disease_card(
    knowledge: KnowledgeDep, cache: CacheDep, name: Annotated[CleanText, Path(min_length=1, max_length=100)]
) -> dict[str, Any]:
    async def compute() -> Computed:
        card = await asyncio.to_thread(knowledge.graph.card, name)  # reads records from disk
        return Computed(card, empty=card is None)

    card: dict[str, Any] | None
    card, _ = await cache.get_or_compute("graph", [name], compute)
    if card is None:
        raise AppError(404, f"No disease named {name!r} in the knowledge graph.")
    return card
