"""Bench-only variant of the service: adds a route limited by slowapi, to measure its cost."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from slowapi import Limiter
from slowapi.util import get_remote_address

from backend.core.app_factory import create_app

# slowapi checks with a synchronous Redis client; this is the design the runtime replaced.
slowapi_limiter = Limiter(
    key_func=get_remote_address,
    storage_uri=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    headers_enabled=True,
    key_prefix="medqa-bench",
)
router = APIRouter(prefix="/bench")


@router.get("/plain")
async def plain_ping(request: Request, response: Response) -> dict[str, str]:
    """Same shape as /api/v1/ping without any limit: the baseline for the limiters' cost."""
    return {"pong": "plain"}


@router.get("/slowapi")
@slowapi_limiter.limit("100000000/minute")
async def slowapi_ping(request: Request, response: Response) -> dict[str, str]:
    return {"pong": "slowapi"}


app = create_app("bench", title="bench service", routers=[router])
app.state.limiter_slowapi = slowapi_limiter
