"""The audit log: who read or changed which patient record or account, and when.

The `audit_log` table in PostgreSQL, append-only for every role: triggers refuse UPDATE and TRUNCATE,
and DELETE except for the retention purge, which removes entries older than AUDIT_RETENTION_DAYS (by
age only) after a write, at most once a minute per worker. An entry holds ids, never patient text:
actor, role, action, record, and the time. Its id is "<unix ms>-<sequence>", ordered like the entries,
and is what `before` pages with.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, select, text

from backend.core.config import Settings
from backend.core.db.engine import Database
from backend.core.db.schema import audit_log
from backend.doctor.auth.users import auth_store_errors

PURGE_EVERY_SECONDS = 60.0


def entry_id(at: float, seq: int) -> str:
    return f"{int(at * 1000)}-{seq}"


class AuditLog:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._db = database
        self._retention_seconds = settings.audit_retention_days * 86_400
        self._purged_at = 0.0

    async def record(self, actor: str, role: str, action: str, records: list[str]) -> None:
        """Append one entry per record; raises (503) when it cannot be written, so no read goes unlogged."""
        now = time.time()
        rows = [
            {"at": now, "actor": actor, "role": role, "action": action, "record": record}
            for record in records or [""]
        ]
        with auth_store_errors():
            async with self._db.transaction() as connection:
                await connection.execute(insert(audit_log), rows)
            if now - self._purged_at > PURGE_EVERY_SECONDS:
                await self.purge(now)

    async def purge(self, now: float | None = None) -> int:
        """Delete the entries older than the retention (the only deletion the table accepts)."""
        cutoff = (now or time.time()) - self._retention_seconds
        with auth_store_errors():
            async with self._db.transaction() as connection:
                await connection.execute(
                    text("SELECT set_config('medqa.audit_purge_before', :cutoff, true)"),
                    {"cutoff": repr(cutoff)},
                )
                result = await connection.execute(delete(audit_log).where(audit_log.c.at < cutoff))
        self._purged_at = now or time.time()
        return int(result.rowcount)

    async def query(
        self,
        *,
        actor: str | None = None,
        record: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Entries newest first, optionally for one actor or one record, older than the id `before`."""
        statement = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if actor:
            statement = statement.where(audit_log.c.actor == actor)
        if record:
            statement = statement.where(audit_log.c.record == record)
        if before is not None:
            statement = statement.where(audit_log.c.seq < _sequence(before))
        with auth_store_errors():
            async with self._db.transaction() as connection:
                rows = (await connection.execute(statement)).all()
        return [
            {
                "id": entry_id(row.at, row.seq),
                "at": row.at,
                "actor": row.actor,
                "role": row.role,
                "action": row.action,
                "record": row.record,
            }
            for row in rows
        ]


def _sequence(before: str) -> int:
    """The sequence part of an entry id; ids of earlier versions ("<ms>-<n>" from Redis) parse too."""
    try:
        return int(before.rsplit("-", 1)[-1]) if "-" in before else int(before)
    except ValueError:
        return 0
