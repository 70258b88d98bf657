"""Alembic migrations, run on service start and by `python -m backend.cli db migrate`.

Every worker of every instance calls `upgrade` when it starts; a PostgreSQL advisory lock held for the
run makes them take turns, so the first applies what is missing and the others find nothing to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant both sides agree on: "medqa" as a 64-bit number.
MIGRATION_LOCK = 0x6D65647161


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(_config()).get_heads())


def _current(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def _upgrade(connection: Connection) -> tuple[tuple[str, ...], tuple[str, ...]]:
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
