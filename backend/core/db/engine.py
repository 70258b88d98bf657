"""The engine on DATABASE_URL (SQLAlchemy 2, asyncpg), made per worker in `db_lifespan`, after the fork.

`Database` is what stores hold: `transaction()` gives a connection in a transaction, and turns a
database that is down, unreachable, too slow or not yet migrated into `DatabaseUnavailable` (a 503),
so nothing is half-written. Migrations run at start under an advisory lock; when the database is down
then, the worker starts anyway (questions need no database) and the first use migrates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from backend.core.config import Settings
from backend.core.db import migrate
from backend.core.errors import DependencyUnavailable
from backend.core.logging import get_logger

log = get_logger("db")

# SQLSTATE classes meaning "the server is not there for you now": connection exceptions, operator
# intervention (shutdown, starting up), insufficient resources, and a database or login that does not
# exist (yet): a worker keeps serving questions and answers 503 for records until it is fixed.
_UNAVAILABLE_SQLSTATES = ("08", "57", "53", "3D", "28")


class DatabaseUnavailable(DependencyUnavailable):
    """PostgreSQL did not answer (down, unreachable, timed out, starting): 503, nothing changed."""


def async_url(url: str) -> str:
    """DATABASE_URL as the asyncpg dialect wants it; plain postgresql:// and postgres:// are accepted."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return parsed.render_as_string(hide_password=False)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.InterfaceError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        orig = error.orig
        cause = getattr(orig, "__cause__", None)  # asyncpg's own error, under SQLAlchemy's adaptor
        state = str(getattr(orig, "sqlstate", "") or getattr(cause, "sqlstate", "") or "")
        return state.startswith(_UNAVAILABLE_SQLSTATES) or isinstance(error, sa_exc.OperationalError)
    return isinstance(error, ConnectionError)


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _tls_off_for_loopback(url: str) -> dict[str, Any]:
    """asyncpg's default (sslmode=prefer) builds a TLS context and asks for TLS on every connection:
    a few ms of each worker's start for nothing on loopback, where no one sits between the two ends.
    A URL that names sslmode/ssl itself is left alone, as is every other host."""
    parsed = make_url(url)
    if parsed.query.keys() & {"ssl", "sslmode"}:
        return {}
    host = parsed.host or parsed.query.get("host")
    local = host is None or (isinstance(host, str) and (host in _LOOPBACK or host.startswith("/")))
    return {"ssl": False} if local else {}


def create_engine(settings: Settings) -> AsyncEngine:
    url = async_url(settings.database_url)
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_overflow,
        pool_timeout=settings.database_timeout,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.database_timeout,
            "command_timeout": settings.database_statement_timeout,
            "server_settings": {"application_name": "medqa"},
            **_tls_off_for_loopback(url),
        },
    )


class Database:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self.engine = engine
        self._timeout = timeout
        self._migrated = False
        self._migrating = asyncio.Lock()

    async def ensure_migrated(self) -> None:
        if self._migrated or migrate.verified_before_fork():
            return
        async with self._migrating:
            if self._migrated:
                return
            try:
                before, after = await asyncio.wait_for(migrate.upgrade(self.engine), self._timeout * 6)
            except Exception as error:
                if is_unavailable(error):
                    raise DatabaseUnavailable("database unavailable") from error
                raise
            if before != after:
                log.info("database migrated", extra={"revision": ",".join(after)})
            self._migrated = True

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One connection in one transaction; committed when the block ends, rolled back if it raises."""
        await self.ensure_migrated()
        try:
            async with self.engine.begin() as connection:
                yield connection
        except DependencyUnavailable:
            raise
        except Exception as error:
            if is_unavailable(error):
                raise DatabaseUnavailable("database unavailable") from error
            raise

    async def ping(self) -> None:
        """Readiness: the database answers a trivial query (raises otherwise)."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


async def health(database: Database) -> dict[str, Any]:
    """A tiny status for the CLI and readiness: reachable, and the schema revision against the code's."""
    try:
        revisions = await migrate.current(database.engine)
    except Exception as error:
        if is_unavailable(error):
            return {"ok": False, "error": type(error).__name__}
        raise
    heads = migrate.head_revisions()
    up_to_date = set(revisions) == set(heads)
    return {"ok": True, "current": list(revisions), "head": list(heads), "up_to_date": up_to_date}


def migrate_before_fork(settings: Settings) -> str:
    """In the gunicorn master, before the first fork: apply pending migrations once for every worker,
    on an engine of its own closed before any fork. When the database does not answer, the workers
    migrate as they start or on first use, as without this. What happened, for the master's log."""

    async def run() -> tuple[tuple[str, ...], tuple[str, ...]]:
        engine = create_engine(settings)
        try:
            return await asyncio.wait_for(migrate.upgrade(engine), settings.database_timeout * 6)
        finally:
            await engine.dispose()

    try:
        before, after = asyncio.run(run())
    except Exception as error:
        if not is_unavailable(error) and not isinstance(error, asyncio.TimeoutError):
            raise
        return f"database unavailable ({type(error).__name__}): workers migrate when it answers"
    migrate.mark_verified(after)
    return "already at " + ",".join(after) if before == after else "migrated to " + ",".join(after)


@contextlib.asynccontextmanager
async def db_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The worker's engine (create_app(lifespans=...)); readiness reports the database as degraded."""
    settings: Settings = app.state.settings
    database = Database(create_engine(settings), settings.database_timeout)
    app.state.db = database
    app.state.degraded_checks["database"] = database.ping
    try:
        await database.ensure_migrated()
    except DatabaseUnavailable:
        log.warning("database unavailable at start: records answer 503 until it answers")
    try:
        yield
    finally:
        await database.engine.dispose()
