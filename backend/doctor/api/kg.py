"""The medical knowledge graph: entities in a text, and a disease's card with its relations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from backend.core.deps import KnowledgeDep, rate_limit
from backend.core.errors import AppError
from backend.core.knowledge.entities import ExtractedEntity

router = APIRouter(prefix="/api/v1/kg", tags=["knowledge graph"], dependencies=[rate_limit("default")])


class EntitiesResponse(BaseModel):
    entities: list[ExtractedEntity]


@router.get("/entities", summary="Diseases, symptoms, drugs, checks... recognised in a text")
async def entities(
    knowledge: KnowledgeDep, text: Annotated[str, Query(min_length=1, max_length=1000)]
) -> EntitiesResponse:
    return EntitiesResponse(entities=await knowledge.extract(text))


@router.get("/diseases/{name}", summary="A disease card: its facts and relations")
async def disease_card(
    knowledge: KnowledgeDep, name: Annotated[str, Path(min_length=1, max_length=100)]
) -> dict[str, Any]:
    card = knowledge.graph.card(name)
    if card is None:
        raise AppError(404, f"No disease named {name!r} in the knowledge graph.")
    return card
