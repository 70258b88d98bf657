"""A service built by the real factory plus routes tests need: slow, strict-input, failing."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from backend.core.app_factory import create_app
from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited

router = APIRouter(prefix="/api/v1/test", responses=ERROR_RESPONSES)
rate_limited(router, "default")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=100)


@router.get("/slow")
async def slow(seconds: float = 1.0) -> dict[str, float]:
    await asyncio.sleep(min(seconds, 20.0))
    return {"slept": seconds}


@router.post("/notes")
async def notes(note: Note) -> dict[str, int]:
    return {"length": len(note.text)}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internal detail")


app = create_app("testsvc", title="test service", routers=[router])
