"""The inbox of pre-consultation summaries: patients submit them, doctors read and triage them.

The patient service calls `submit` when a pre-consultation dialogue ends; the doctor service lists,
reads and marks records (`new` → `seen` → `done`). Both talk to the same Redis, so every worker of
either service sees one inbox.

Key layout (`P` is the prefix, normally REDIS_KEY_PREFIX):
  P{consultations}:rec:<id>            JSON record (orjson), EX retention
  P{consultations}:index               ZSET id → created_at, for newest-first listing
  P{consultations}:session:<sha256>    SET of ids submitted from one patient session, EX retention

The `{consultations}` hash tag puts every key in one Cluster slot, which is what lets one Lua script
touch the record, the index and the session set at once under redis+cluster:// too. Thousands of
records fit one slot easily.

Retention: a record lives `retention_seconds` from submission and then expires by itself; a status
change keeps its remaining TTL, so triage never extends how long patient data is kept. The index has
no per-member TTL, so `list` first drops members older than the retention and members whose record
is gone (expired or erased); the index key itself expires with its newest record. The session set is
re-armed with the full retention on each submit, so it outlives every record it names.

Privacy: the patient's session id is stored only as its SHA-256 (`session_sha256`), enough for
`erase_session` to find a session's records when the patient erases their data, and never returned
by `get` or `list`, so a doctor cannot link a record to a live session. Summaries and patient text are
never logged.

Status changes are compare-and-set (a Lua script that writes only if the record is still the one
read), retried on conflict, so two doctors marking the same record at once never lose a write nor
leave torn JSON. The JSON is rewritten in Python rather than in Lua because Redis' cjson would turn
empty lists into objects and round floats.

Redis being down or slow surfaces as `StoreUnavailable`, which the APIs answer with 503.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import orjson
from fastapi import FastAPI

from backend.core.config import Settings
from backend.core.errors import DependencyUnavailable
from backend.core.logging import get_logger
from backend.core.redis import REDIS_UNAVAILABLE, RedisClient

log = get_logger("consultations")

Status = Literal["new", "seen", "done"]
STATUSES: tuple[Status, ...] = ("new", "seen", "done")

MAX_PAGE_SIZE = 100
_MGET_BATCH = 500
# Each conflict means another writer succeeded, so this bounds the wait, not correctness.
_CAS_ATTEMPTS = 64
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
_PRIVATE_FIELDS = ("session_sha256",)

T = TypeVar("T")

_SUBMIT_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 1
"""

# 1 written, 0 record gone, -1 someone else changed it since we read it.
_CAS_LUA = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""

# KEYS[1] session set, KEYS[2] index; ARGV[1] the record key prefix.
_ERASE_LUA = """
local ids = redis.call('SMEMBERS', KEYS[1])
local erased = 0
for _, id in ipairs(ids) do
  erased = erased + redis.call('DEL', ARGV[1] .. id)
  redis.call('ZREM', KEYS[2], id)
end
redis.call('DEL', KEYS[1])
return erased
"""


class StoreUnavailable(DependencyUnavailable):
    """Redis did not answer (down, unreachable, timed out): callers answer 503."""


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except REDIS_UNAVAILABLE as exc:
        raise StoreUnavailable("consultation store unavailable") from exc


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in _PRIVATE_FIELDS}


def _check_status(status: object) -> Status:
    for known in STATUSES:
        if status == known:
            return known
    raise ValueError(f"status must be one of {', '.join(STATUSES)}")


class ConsultationStore:
    def __init__(self, redis: RedisClient, *, prefix: str, retention_seconds: int) -> None:
        if retention_seconds < 1:
            raise ValueError("retention_seconds must be at least 1")
        self._redis = redis
        self._retention = int(retention_seconds)
        base = f"{prefix}{{consultations}}:"
        self._record_prefix = f"{base}rec:"
        self._index = f"{base}index"
        self._session_prefix = f"{base}session:"
        self._submit_script = redis.register_script(_SUBMIT_LUA)
        self._cas_script = redis.register_script(_CAS_LUA)
        self._erase_script = redis.register_script(_ERASE_LUA)

    async def _call(self, awaitable: Awaitable[T]) -> T:
        with _redis_errors():
            return await awaitable

    def _record_key(self, record_id: str) -> str:
        return f"{self._record_prefix}{record_id}"

    def _session_key(self, session_id: str) -> str:
        return f"{self._session_prefix}{hashlib.sha256(session_id.encode()).hexdigest()}"

    def _decode(self, record_id: str, raw: bytes | str | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Only the id: the payload is patient data.
            log.warning("unreadable consultation record skipped", extra={"record_id": record_id})
            return None
        return record if isinstance(record, dict) else None

    async def submit(self, summary: dict[str, Any], *, department: str, session_id: str) -> dict[str, Any]:
        """Store a new summary (status "new") and return it as a doctor will see it."""
        if not isinstance(summary, dict):
            raise ValueError("summary must be a JSON object")
        if not department or not department.strip():
            raise ValueError("department is required")
        if not session_id:
            raise ValueError("session_id is required")
        record_id = secrets.token_urlsafe(16)
        now = time.time()
        record: dict[str, Any] = {
            "id": record_id,
            "created_at": now,
            "updated_at": now,
            "status": "new",
            "department": department,
            "summary": summary,
            "session_sha256": hashlib.sha256(session_id.encode()).hexdigest(),
        }
        try:
            payload = orjson.dumps(record)
        except orjson.JSONEncodeError as exc:
            raise ValueError("summary is not JSON-serialisable") from exc
        await self._call(
            self._submit_script(
                keys=[self._record_key(record_id), self._index, self._session_key(session_id)],
                args=[payload, self._retention, repr(now), record_id],
            )
        )
        log.info("consultation submitted", extra={"record_id": record_id, "department": department})
        return _public(record)

    async def get(self, record_id: str) -> dict[str, Any] | None:
        """The record, or None when the id is malformed, unknown, expired or erased."""
        if not _RECORD_ID.fullmatch(record_id):
            return None
        raw = await self._call(self._redis.get(self._record_key(record_id)))
        record = self._decode(record_id, raw)
        return _public(record) if record is not None else None

    async def list(
        self,
        *,
        department: str | None = None,
        status: Status | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """One page of records, newest first, and how many match the filters in all."""
        if status is not None:
            status = _check_status(status)
        if page < 1:
            raise ValueError("page must be at least 1")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")

        cutoff = time.time() - self._retention
        await self._call(self._redis.zremrangebyscore(self._index, "-inf", f"({cutoff!r}"))
        raw_ids = await self._call(self._redis.zrevrange(self._index, 0, -1))
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in raw_ids]

        matching: builtins.list[dict[str, Any]] = []
        gone: builtins.list[str] = []
        for start in range(0, len(ids), _MGET_BATCH):
            batch = ids[start : start + _MGET_BATCH]
            raws = await self._call(self._redis.mget([self._record_key(i) for i in batch]))
            for record_id, raw in zip(batch, raws, strict=True):
                record = self._decode(record_id, raw)
                if record is None:
                    if raw is None:
                        gone.append(record_id)
                    continue
                if department is not None and record.get("department") != department:
                    continue
                if status is not None and record.get("status") != status:
                    continue
                matching.append(_public(record))
        if gone:
            # A record and its index entry are written together, so a missing record means it expired.
            await self._call(self._redis.zrem(self._index, *gone))

        first = (page - 1) * page_size
        return matching[first : first + page_size], len(matching)

    async def set_status(self, record_id: str, status: Status) -> dict[str, Any] | None:
        """Change the status (keeping the record's remaining TTL); None if the record is not there."""
        status = _check_status(status)
        if not _RECORD_ID.fullmatch(record_id):
            return None
        key = self._record_key(record_id)
        for _ in range(_CAS_ATTEMPTS):
            raw = await self._call(self._redis.get(key))
            record = self._decode(record_id, raw)
            if raw is None or record is None:
                return None
            record["status"] = status
            record["updated_at"] = max(time.time(), float(record.get("updated_at", 0.0)))
            written = await self._call(self._cas_script(keys=[key], args=[raw, orjson.dumps(record)]))
            if written == 1:
                log.info("consultation status set", extra={"record_id": record_id, "status": status})
                return _public(record)
            if written == 0:
                return None
            await asyncio.sleep(0)  # let the writer that won finish before reading again
        raise StoreUnavailable("consultation record is changing too fast; retry")

    async def erase_session(self, session_id: str) -> int:
        """Delete every record submitted from this session; how many there were."""
        if not session_id:
            return 0
        erased = await self._call(
            self._erase_script(keys=[self._session_key(session_id), self._index], args=[self._record_prefix])
        )
        log.info("consultation records erased for a session", extra={"count": int(erased)})
        return int(erased)


@contextlib.asynccontextmanager
async def consultations_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The consultation store on the worker's Redis pool (create_app(lifespans=...)), both services."""
    settings: Settings = app.state.settings
    app.state.consultations = ConsultationStore(
        app.state.redis,
        prefix=settings.redis_key_prefix,
        retention_seconds=round(settings.consultation_retention_days * 86_400),
    )
    yield
