"""`db import-redis`: accounts, consultation records and audit entries that earlier versions kept in Redis."""

from __future__ import annotations

from typing import Any

from backend.core.config import Settings
from backend.core.db.engine import Database


async def import_redis(database: Database, settings: Settings) -> dict[str, Any]:
    raise NotImplementedError("import-redis lands with the stores' move to PostgreSQL")
