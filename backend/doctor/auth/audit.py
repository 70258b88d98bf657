"""The audit log: who read or changed which patient record or account, and when.

A Redis stream (`P{auth}:audit`), append-only, newest entries read with XREVRANGE. Entries older than
AUDIT_RETENTION_DAYS are trimmed on write (XADD MINID), so the log keeps a bounded, known history. An
entry holds ids, never patient text: actor, role, action, record, and the time (the stream id).
"""

from __future__ import annotations

import time
from typing import Any

from backend.core.config import Settings
from backend.core.redis import RedisClient
from backend.doctor.auth.users import auth_store_errors

MAX_SCAN = 10_000  # entries examined per query when filtering, so a query is bounded


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class AuditLog:
    def __init__(self, redis: RedisClient, settings: Settings) -> None:
        self._redis = redis
        self._key = f"{settings.redis_key_prefix}{{auth}}:audit"
        self._retention_ms = int(settings.audit_retention_days * 86_400_000)

    async def record(self, actor: str, role: str, action: str, records: list[str]) -> None:
        """Append one entry per record; raises (503) when it cannot be written, so no read goes unlogged."""
        min_id = f"{int(time.time() * 1000) - self._retention_ms}-0"
        with auth_store_errors():
            async with self._redis.pipeline(transaction=False) as pipe:
                for record in records or [""]:
                    fields = {"actor": actor, "role": role, "action": action, "record": record}
                    pipe.xadd(self._key, fields, minid=min_id, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()

    async def query(
        self,
        *,
        actor: str | None = None,
        record: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Entries newest first, optionally for one actor or one record, older than the id `before`."""
        entries: list[dict[str, Any]] = []
        if before is not None and tuple(map(int, before.split("-"))) == (0, 0):
            return entries  # nothing is older than the first possible id
        end = f"({before}" if before else "+"
        scanned = 0
        with auth_store_errors():
            while len(entries) < limit and scanned < MAX_SCAN:
                batch = await self._redis.xrevrange(self._key, max=end, min="-", count=500)
                if not batch:
                    break
                for entry_id, raw in batch:
                    scanned += 1
                    fields = {_text(k): _text(v) for k, v in (raw or {}).items()}
                    if (actor and fields.get("actor") != actor) or (
                        record and fields.get("record") != record
                    ):
                        continue
                    entry_id = _text(entry_id)
                    entries.append({"id": entry_id, "at": int(entry_id.split("-")[0]) / 1000, **fields})
                    if len(entries) == limit:
                        break
                end = f"({_text(batch[-1][0])}"
        return entries
