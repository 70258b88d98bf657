"""Libraries the gunicorn master imports before it forks, so a worker (and every recycled one)
starts without paying for them: they are ~1.5 s of each worker's start on two cores.

Only third-party modules, whose import creates no state we own (prometheus_client reads
PROMETHEUS_MULTIPROC_DIR at import: gunicorn.conf.py sets it first): our own modules stay imported
after the fork (metrics, settings and resources belong to each worker). None of these starts a
thread at import (FAISS's OpenMP pool starts on first use, in the worker)."""

from __future__ import annotations

import importlib
from typing import Final

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
