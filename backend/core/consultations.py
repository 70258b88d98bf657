"""The inbox of pre-consultation summaries: patients submit them, doctors read and triage them.

The patient service calls `submit` when a pre-consultation dialogue ends; the doctor service lists,
reads and marks records (`new` → `seen` → `done`). Both use the same PostgreSQL table
(`consultations`, the system of record), so every worker of either service sees one inbox and a Redis
FLUSHALL loses nothing.

Retention: a record lives `retention_seconds` from submission. Reads never return an older one, and
`list` deletes those past it (retention by age only); a status change never extends how long patient
data is kept, since the age counts from `created_at`.

Privacy: the patient's session id is stored only as its SHA-256 (`session_sha256`), enough for
`erase_session` to find a session's records when the patient erases their data, and never returned
by `get` or `list`, so a doctor cannot link a record to a live session. Summaries and patient text are
never logged.

A status change is one UPDATE, so two doctors marking the same record at once never lose a write nor
leave a torn record. The database being down or slow surfaces as `StoreUnavailable` (503).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import orjson
from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select, update

from backend.core.config import Settings
from backend.core.db.engine import Database, DatabaseUnavailable
from backend.core.db.schema import consultations
from backend.core.errors import DependencyUnavailable
from backend.core.logging import get_logger

log = get_logger("consultations")

Status = Literal["new", "seen", "done"]
STATUSES: tuple[Status, ...] = ("new", "seen", "done")

MAX_PAGE_SIZE = 100
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
_PUBLIC = (
    consultations.c.id,
    consultations.c.created_at,
    consultations.c.updated_at,
    consultations.c.status,
    consultations.c.department,
    consultations.c.summary,
)


class StoreUnavailable(DependencyUnavailable):
    """The database did not answer (down, unreachable, timed out): callers answer 503."""


@contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except DatabaseUnavailable as exc:
        raise StoreUnavailable("consultation store unavailable") from exc


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "status": row.status,
        "department": row.department,
        "summary": row.summary,
    }


def _check_status(status: object) -> Status:
    for known in STATUSES:
        if status == known:
            return known
    raise ValueError(f"status must be one of {', '.join(STATUSES)}")


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ConsultationStore:
    def __init__(self, database: Database, *, retention_seconds: int) -> None:
        if retention_seconds < 1:
            raise ValueError("retention_seconds must be at least 1")
        self._db = database
        self._retention = int(retention_seconds)

    def _cutoff(self) -> float:
        return time.time() - self._retention

    async def submit(self, summary: dict[str, Any], *, department: str, session_id: str) -> dict[str, Any]:
        """Store a new summary (status "new") and return it as a doctor will see it."""
        if not isinstance(summary, dict):
            raise ValueError("summary must be a JSON object")
        if not department or not department.strip():
            raise ValueError("department is required")
        if not session_id:
            raise ValueError("session_id is required")
        try:
            # orjson's round trip is what the record will read back as (and rejects what JSON cannot hold).
            stored_summary = orjson.loads(orjson.dumps(summary))
        except orjson.JSONEncodeError as exc:
            raise ValueError("summary is not JSON-serialisable") from exc
        now = time.time()
        record: dict[str, Any] = {
            "id": secrets.token_urlsafe(16),
            "created_at": now,
            "updated_at": now,
            "status": "new",
            "department": department,
            "summary": stored_summary,
        }
        with _store_errors():
            async with self._db.transaction() as connection:
                await connection.execute(
                    insert(consultations).values(**record, session_sha256=session_hash(session_id))
                )
        log.info("consultation submitted", extra={"record_id": record["id"], "department": department})
        return record

    async def get(self, record_id: str) -> dict[str, Any] | None:
        """The record, or None when the id is malformed, unknown, past retention or erased."""
        if not _RECORD_ID.fullmatch(record_id):
            return None
        statement = select(*_PUBLIC).where(
            consultations.c.id == record_id, consultations.c.created_at >= self._cutoff()
        )
        with _store_errors():
            async with self._db.transaction() as connection:
                row = (await connection.execute(statement)).first()
        return _public(row) if row is not None else None

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
        cutoff = self._cutoff()
        conditions = [consultations.c.created_at >= cutoff]
        if department is not None:
            conditions.append(consultations.c.department == department)
        if status is not None:
            conditions.append(consultations.c.status == status)
        with _store_errors():
            async with self._db.transaction() as connection:
                await connection.execute(delete(consultations).where(consultations.c.created_at < cutoff))
                total = (
                    await connection.execute(
                        select(func.count()).select_from(consultations).where(*conditions)
                    )
                ).scalar_one()
                rows = (
                    await connection.execute(
                        select(*_PUBLIC)
                        .where(*conditions)
                        .order_by(consultations.c.created_at.desc(), consultations.c.id)
                        .offset((page - 1) * page_size)
                        .limit(page_size)
                    )
                ).all()
        return [_public(row) for row in rows], int(total)

    async def set_status(self, record_id: str, status: Status) -> dict[str, Any] | None:
        """Change the status; None if the record is not there (or past retention)."""
        status = _check_status(status)
        if not _RECORD_ID.fullmatch(record_id):
            return None
        statement = (
            update(consultations)
            .where(consultations.c.id == record_id, consultations.c.created_at >= self._cutoff())
            .values(status=status, updated_at=func.greatest(time.time(), consultations.c.updated_at))
            .returning(*_PUBLIC)
        )
        with _store_errors():
            async with self._db.transaction() as connection:
                row = (await connection.execute(statement)).first()
        if row is None:
            return None
        log.info("consultation status set", extra={"record_id": record_id, "status": status})
        return _public(row)

    async def erase_session(self, session_id: str) -> int:
        """Delete every record submitted from this session; how many there were."""
        if not session_id:
            return 0
        statement = delete(consultations).where(consultations.c.session_sha256 == session_hash(session_id))
        with _store_errors():
            async with self._db.transaction() as connection:
                erased = int((await connection.execute(statement)).rowcount)
        log.info("consultation records erased for a session", extra={"count": erased})
        return erased


@contextlib.asynccontextmanager
async def consultations_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The consultation store on the worker's database (create_app(lifespans=...)), both services."""
    settings: Settings = app.state.settings
    app.state.consultations = ConsultationStore(
        app.state.db, retention_seconds=round(settings.consultation_retention_days * 86_400)
    )
    yield
