"""Alembic migrations, run on service start and by `python -m backend.cli db migrate`.

The gunicorn master calls `upgrade` once before it forks (engine.migrate_before_fork); a worker calls
it itself when the master could not reach the database. A PostgreSQL advisory lock held for the run
makes instances take turns, so the first applies what is missing and the others find nothing to do.
A database already at the head costs one query and no lock, and the scripts are read once per process.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revisions the gunicorn master found at the head before it forked (engine.migrate_before_fork):
# workers inherit it and skip their own check, a database connection each worker recycled by
# MAX_REQUESTS would otherwise open as it starts.
_verified_before_fork: tuple[str, ...] | None = None
# Any constant both sides agree on: "medqa" as a 64-bit number.
MIGRATION_LOCK = 0x6D65647161


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(_config()).get_heads())


def _current(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _at_head(connection: Connection) -> tuple[str, ...] | None:
    """The revisions, when the database is already at the head; None when it may need work."""
    try:
        found = tuple(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except sa_exc.ProgrammingError:  # no version table yet: a new database
        connection.rollback()
        return None
    connection.commit()
    return found if set(found) == set(head_revisions()) else None


def _upgrade(connection: Connection) -> tuple[tuple[str, ...], tuple[str, ...]]:
    current = _at_head(connection)
    if current is not None:
        return current, current
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    try:
        before = _current(connection)
        if set(before) != set(head_revisions()):
            command.upgrade(_config(connection), "heads")
        connection.commit()
        return before, _current(connection)
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


async def upgrade(engine: AsyncEngine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Apply every pending migration; (revisions before, revisions after)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_upgrade)


async def current(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def verified_before_fork() -> bool:
    return _verified_before_fork is not None and set(_verified_before_fork) == set(head_revisions())


def mark_verified(revisions: tuple[str, ...]) -> None:
    global _verified_before_fork
    _verified_before_fork = revisions
