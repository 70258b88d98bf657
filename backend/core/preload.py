"""Libraries the gunicorn master imports before it forks, so a worker (and every recycled one)
starts without paying for them: they are ~1.5 s of each worker's start on two cores.

Only third-party modules, whose import creates no state we own (prometheus_client reads
PROMETHEUS_MULTIPROC_DIR at import: gunicorn.conf.py sets it first): our own modules stay imported
after the fork (metrics, settings and resources belong to each worker). None of these starts a
thread at import (FAISS's OpenMP pool starts on first use, in the worker)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Final

MODULES: Final = (
    "anyio", "argon2", "ahocorasick", "faiss", "fastapi", "fastapi.routing", "httpx", "jwt", "limits",
    "logging.config", "numpy", "numpy.typing", "orjson", "prometheus_client", "pwdlib",
    "pwdlib.hashers.argon2",
    "pydantic", "pydantic.v1", "pydantic_settings", "python_multipart", "redis", "redis.asyncio", "Stemmer",
    "starlette", "tantivy", "xxhash", "zstandard", "fastapi.openapi.models", "starlette.applications",
    "limits.aio.storage", "uvicorn.protocols.http.httptools_impl",
    "sqlalchemy", "sqlalchemy.ext.asyncio", "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.postgresql.asyncpg", "asyncpg", "alembic", "alembic.command",
    "alembic.runtime.migration", "alembic.script",
    # What uvicorn and FastAPI import as each worker's server starts (Config.load, the lifespan).
    "uvicorn.lifespan.on", "uvicorn.loops.auto", "uvicorn.loops.uvloop", "uvloop",
    "uvicorn.protocols.http.auto", "fastapi.telemetry._runtime",
)  # fmt: skip


def preload_libraries() -> list[str]:
    """Import MODULES; the ones not installed are skipped (the worker imports what it needs)."""
    missing = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def warm_routes(app: Any) -> int:
    """Build in the gunicorn master what FastAPI builds on each route's first request, so every
    worker inherits it instead of paying for it after each fork: the included routers' route state,
    and each endpoint's source location (inspect + tokenize of its module: ~40 ms for the first
    question a recycled worker answers). Both are FastAPI internals (0.16x): when they change, this
    warms nothing and the workers build them as before. The number of endpoints warmed."""
    extract = getattr(importlib.import_module("fastapi.routing"), "_extract_endpoint_context", None)
    warmed = 0

    def visit(routes: Iterable[Any]) -> None:
        nonlocal warmed
        for route in routes:
            candidates = getattr(route, "effective_candidates", None)
            if callable(candidates):  # an included router: its routes, built on first use
                visit(candidates())
                low_priority = getattr(route, "effective_low_priority_routes", None)
                visit(low_priority() if callable(low_priority) else ())
                continue
            call = getattr(getattr(route, "dependant", None), "call", None)
            if extract is not None and call is not None:
                extract(call)
                warmed += 1

    visit(app.routes)
    return warmed
