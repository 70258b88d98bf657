"""The smallest API route, behind the default rate limit: a hello-world for clients and benchmarks."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited

router = APIRouter(prefix="/api/v1", tags=["system"], responses=ERROR_RESPONSES)
rate_limited(router, "default")


@router.get("/ping", summary="Answers pong; counts against the default rate limit")
async def ping(request: Request) -> dict[str, str]:
    return {"pong": request.app.state.service}
