"""`python -m backend.cli db ...`: the system of record from the operator's shell.

db migrate        apply pending migrations (services also do it when they start)
db status         reachable?, the schema revision against the code's; exit 1 when behind or down
db import-redis   copy accounts, consultation records and audit entries from Redis (earlier versions)
db import-legacy  everything earlier versions kept elsewhere: what import-redis copies, and the
                  knowledge stores under DATA_DIR/kb that only this host holds; prints the counts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from backend.core.config import Settings
from backend.core.db import migrate
from backend.core.db.engine import Database, DatabaseUnavailable, create_engine, health, is_unavailable
from backend.core.redis import REDIS_UNAVAILABLE


def add_parser(commands: Any) -> None:
    db = commands.add_parser("db", help="the PostgreSQL system of record: migrate, status, import-redis")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="apply pending migrations")
    actions.add_parser("status", help="reachability and schema revision")
    actions.add_parser("import-redis", help="copy accounts, records and audit entries found in Redis")
    actions.add_parser(
        "import-legacy", help="import-redis, and the knowledge stores under DATA_DIR/kb, into the database"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args.action, settings))


async def _run(action: str, settings: Settings) -> int:
    database = Database(create_engine(settings), settings.database_timeout)
    try:
        if action == "migrate":
            before, after = await migrate.upgrade(database.engine)
            word = "already at" if before == after else f"migrated from {','.join(before) or 'empty'} to"
            print(f"database {word} {','.join(after)}")
            return 0
        if action == "status":
            status = await health(database)
            print(json.dumps(status))
            return 0 if status["ok"] and status["up_to_date"] else 1
        from backend.core.db.import_redis import import_redis

        counts = await import_redis(database, settings)
        if action == "import-legacy":
            counts["knowledge"] = await _adopt_knowledge(database, settings)
        print(json.dumps(counts))
        return 0
    except DatabaseUnavailable:
        print(f"database unavailable at {_where(settings)}", file=sys.stderr)
        return 2
    except REDIS_UNAVAILABLE:
        print("Redis unavailable at REDIS_URL: nothing imported", file=sys.stderr)
        return 2
    except Exception as error:
        if is_unavailable(error):
            print(f"database unavailable at {_where(settings)}: {type(error).__name__}", file=sys.stderr)
            return 2
        raise
    finally:
        await database.engine.dispose()


async def _adopt_knowledge(database: Database, settings: Settings) -> dict[str, int]:
    # Imported here: the knowledge layer sits above the database layer, and only this command needs it.
    from backend.core.knowledge.replication import Replication
    from backend.core.knowledge.retrieval.indexer import Indexer
    from backend.core.knowledge.store.central import CentralStore
    from backend.core.knowledge.store.repository import KnowledgeRepository

    replication = Replication(Indexer(KnowledgeRepository(settings)), CentralStore(database))
    return await replication.adopt_all()


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)
