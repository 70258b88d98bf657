"""Alembic's entry point: runs on the connection `migrate.py` hands over (holding the advisory lock)."""

from __future__ import annotations

from alembic import context

from backend.core.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through backend.core.db.migrate (python -m backend.cli db migrate)")
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
