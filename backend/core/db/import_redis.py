"""`db import-redis`: accounts, consultation records and audit entries that earlier versions kept in Redis.

Reads the old key layouts under REDIS_KEY_PREFIX (`{auth}:users`, `{auth}:user:<name>`, `{auth}:audit`,
`{consultations}:rec:<id>`) and inserts what the database lacks; Redis is left as it was, so a second
run imports nothing new and reports the rest as already there. Everything found is counted: imported,
already present, or skipped with its reason (an unreadable entry, a record past its retention).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
from sqlalchemy.dialects.postgresql import insert

from backend.core.config import Settings
from backend.core.db.engine import Database
from backend.core.db.schema import accounts, audit_log, consultations
from backend.core.redis import RedisClient, create_redis

_ROLES = ("doctor", "admin")
_STATUSES = ("new", "seen", "done")
_AUDIT_BATCH = 1000


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


async def import_redis(database: Database, settings: Settings) -> dict[str, Any]:
    redis = create_redis(settings)
    try:
        await database.ensure_migrated()
        return {
            "accounts": dict(await _accounts(database, redis, settings.redis_key_prefix)),
            "consultations": dict(await _consultations(database, redis, settings)),
            "audit": dict(await _audit(database, redis, settings.redis_key_prefix)),
        }
    finally:
        await redis.aclose()


async def _insert_new(database: Database, statement: Any) -> bool:
    async with database.transaction() as connection:
        return (await connection.execute(statement)).first() is not None


async def _accounts(database: Database, redis: RedisClient, prefix: str) -> Counter[str]:
    counts: Counter[str] = Counter(found=0, imported=0, already_present=0)
    names = {_text(name) for name in await redis.smembers(f"{prefix}{{auth}}:users")}
    async for key in redis.scan_iter(match=f"{prefix}{{auth}}:user:*", count=500):
        names.add(_text(key).rsplit(":user:", 1)[1])
    for name in sorted(names):
        counts["found"] += 1
        fields = {
            _text(k): _text(v) for k, v in (await redis.hgetall(f"{prefix}{{auth}}:user:{name}")).items()
        }
        if not fields.get("password_hash") or fields.get("role") not in _ROLES:
            counts["skipped_incomplete"] += 1
            continue
        statement = (
            insert(accounts)
            .values(
                username=name,
                password_hash=fields["password_hash"],
                role=fields["role"],
                created_at=float(fields.get("created_at") or 0),
                valid_after=float(fields.get("valid_after") or 0),
            )
            .on_conflict_do_nothing(index_elements=["username"])
            .returning(accounts.c.username)
        )
        counts["imported" if await _insert_new(database, statement) else "already_present"] += 1
    return counts


async def _consultations(database: Database, redis: RedisClient, settings: Settings) -> Counter[str]:
    counts: Counter[str] = Counter(found=0, imported=0, already_present=0)
    prefix = f"{settings.redis_key_prefix}{{consultations}}:rec:"
    cutoff = time.time() - settings.consultation_retention_days * 86_400
    async for key in redis.scan_iter(match=f"{prefix}*", count=500):
        counts["found"] += 1
        raw = await redis.get(key)
        try:
            record = orjson.loads(raw) if raw is not None else None
        except orjson.JSONDecodeError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("summary"), dict):
            counts["skipped_unreadable"] += 1
            continue
        created_at = float(record.get("created_at") or 0)
        if created_at < cutoff:
            counts["skipped_past_retention"] += 1
            continue
        statement = (
            insert(consultations)
            .values(
                id=_text(key).removeprefix(prefix),
                created_at=created_at,
                updated_at=float(record.get("updated_at") or created_at),
                status=record.get("status") if record.get("status") in _STATUSES else "new",
                department=str(record.get("department") or ""),
                summary=record["summary"],
                session_sha256=str(record.get("session_sha256") or ""),
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(consultations.c.id)
        )
        counts["imported" if await _insert_new(database, statement) else "already_present"] += 1
    return counts


async def _audit(database: Database, redis: RedisClient, prefix: str) -> Counter[str]:
    """Oldest first, so the imported entries keep their order; each stream id is imported once."""
    counts: Counter[str] = Counter(found=0, imported=0, already_present=0)
    key = f"{prefix}{{auth}}:audit"
    start = "-"
    while True:
        batch = await redis.xrange(key, min=start, max="+", count=_AUDIT_BATCH)
        if not batch:
            break
        rows = []
        for entry_id, raw in batch:
            fields = {_text(k): _text(v) for k, v in (raw or {}).items()}
            stream_id = _text(entry_id)
            rows.append(
                {
                    "at": int(stream_id.split("-")[0]) / 1000,
                    "actor": fields.get("actor", ""),
                    "role": fields.get("role", ""),
                    "action": fields.get("action", ""),
                    "record": fields.get("record", ""),
                    "source_id": stream_id,
                }
            )
        counts["found"] += len(rows)
        statement = (
            insert(audit_log).values(rows).on_conflict_do_nothing(index_elements=["source_id"])
        ).returning(audit_log.c.seq)
        async with database.transaction() as connection:
            imported = len((await connection.execute(statement)).all())
        counts["imported"] += imported
        counts["already_present"] += len(rows) - imported
        start = f"({_text(batch[-1][0])}"
    return counts
