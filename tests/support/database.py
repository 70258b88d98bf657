"""PostgreSQL for tests: the machine's (or DATABASE_URL's) server, or one started here, and a fresh
database per test made from a migrated template, so no test sees another's records."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

RUN = uuid.uuid4().hex[:8]
TEMPLATE = f"medqa_test_{RUN}_template"


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _in_thread(coroutine: Any) -> Any:
    """Run a coroutine to completion even when the caller is itself inside an event loop."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def answers(url: str) -> bool:
    try:
        _in_thread(_execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


class TestDatabases:
    """Databases of this test run on one server (`admin_url` names its maintenance database)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []
        self._template_ready = False

    def _prepare_template(self) -> None:
        if self._template_ready:
            return
        from backend.core.config import Settings
        from backend.core.db import migrate
        from backend.core.db.engine import create_engine

        _in_thread(_execute(self.admin_url, f'CREATE DATABASE "{TEMPLATE}"'))
        self.created.append(TEMPLATE)

        async def migrated() -> None:
            engine = create_engine(Settings(database_url=_dsn(self.admin_url, TEMPLATE)))
            try:
                await migrate.upgrade(engine)
            finally:
                await engine.dispose()

        _in_thread(migrated())
        self._template_ready = True

    def empty(self) -> str:
        """The URL of a new database with no schema at all (what migrations start from)."""
        name = f"medqa_test_{RUN}_{uuid.uuid4().hex[:8]}"
        _in_thread(_execute(self.admin_url, f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return _dsn(self.admin_url, name)

    def fresh(self) -> str:
        """The URL of a new, migrated, empty database."""
        self._prepare_template()
        name = f"medqa_test_{RUN}_{uuid.uuid4().hex[:8]}"
        _in_thread(_execute(self.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
        self.created.append(name)
        return _dsn(self.admin_url, name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            # A server a test stopped has nothing left to clean.
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                _in_thread(_execute(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()
