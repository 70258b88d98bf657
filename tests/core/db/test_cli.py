"""`python -m backend.cli db ...` as an operator runs it: migrate, status, and import-redis with counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import redis as redis_sync

from backend.core.config import PROJECT_ROOT, Settings
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository
from backend.devstack.processes import free_port
from tests.support.database import TestDatabases


def db(
    database_url: str, *args: str, prefix: str = "unused:", data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DATABASE_TIMEOUT": "1", "REDIS_KEY_PREFIX": prefix}
    if data_dir is not None:
        env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", "db", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_then_status_on_an_empty_database(test_databases: TestDatabases) -> None:
    url = test_databases.empty()
    assert db(url, "status").returncode == 1  # behind: nothing applied yet
    migrated = db(url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated from empty to" in migrated.stdout
    assert "already at" in db(url, "migrate").stdout
    status = db(url, "status")
    assert status.returncode == 0
    assert json.loads(status.stdout)["up_to_date"] is True
    down = db(f"postgresql://postgres@127.0.0.1:{free_port()}/medqa", "status")
    assert down.returncode == 1
    assert json.loads(down.stdout)["ok"] is False


def test_import_redis_copies_everything_once_and_counts_it(database_url: str) -> None:
    prefix = f"{os.environ['REDIS_KEY_PREFIX']}import-{uuid.uuid4().hex[:6]}:"
    client = redis_sync.Redis.from_url(os.environ["REDIS_URL"])
    now = time.time()
    for name, role in (("dr-old", "doctor"), ("boss", "admin")):
        client.hset(
            f"{prefix}{{auth}}:user:{name}",
            mapping={"password_hash": "$argon2id$v=19$x", "role": role, "created_at": now, "valid_after": 0},
        )
        client.sadd(f"{prefix}{{auth}}:users", name)
    client.hset(f"{prefix}{{auth}}:user:broken", mapping={"role": "doctor"})  # no password hash
    record = {"id": "A" * 22, "created_at": now, "updated_at": now, "status": "seen", "department": "neuro"}
    record |= {"summary": {"chief_complaint": "头痛"}, "session_sha256": "0" * 64}
    client.set(f"{prefix}{{consultations}}:rec:{'A' * 22}", orjson.dumps(record))
    expired = {**record, "id": "B" * 22, "created_at": now - 400 * 86_400}
    client.set(f"{prefix}{{consultations}}:rec:{'B' * 22}", orjson.dumps(expired))
    client.set(f"{prefix}{{consultations}}:rec:{'C' * 22}", b"not json")
    for n in range(3):
        client.xadd(
            f"{prefix}{{auth}}:audit", {"actor": "boss", "role": "admin", "action": "read", "record": str(n)}
        )
    client.close()

    first = db(database_url, "import-redis", prefix=prefix)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "accounts": {"found": 3, "imported": 2, "already_present": 0, "skipped_incomplete": 1},
        "consultations": {
            "found": 3,
            "imported": 1,
            "already_present": 0,
            "skipped_past_retention": 1,
            "skipped_unreadable": 1,
        },
        "audit": {"found": 3, "imported": 3, "already_present": 0},
    }
    second = json.loads(db(database_url, "import-redis", prefix=prefix).stdout)
    assert [second[kind]["imported"] for kind in ("accounts", "consultations", "audit")] == [0, 0, 0]
    assert [second[kind]["already_present"] for kind in ("accounts", "consultations", "audit")] == [2, 1, 3]


def test_import_legacy_puts_the_local_knowledge_stores_into_the_database_once(
    database_url: str, tmp_path: Path
) -> None:
    repository = KnowledgeRepository(Settings(data_dir=tmp_path))
    documents = [Document(id=f"g{n}", title=f"guide {n}", text=f"Guide {n} on gout.") for n in range(3)]
    Indexer(repository).upsert("guides", documents)  # written by an earlier version, on this host only
    Indexer(repository).upsert("guides", documents[:1])

    first = db(database_url, "import-legacy", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)["knowledge"]
    assert counts == {
        "stores_found": 1,
        "adopted": 1,
        "converted": 0,
        "already_in_database": 0,
        "documents": 3,
    }
    assert repository.info("guides").batch_id  # this host's copy is now the database's, history and all
    again = json.loads(db(database_url, "import-legacy", data_dir=tmp_path).stdout)["knowledge"]
    assert again["stores_found"] == 0

    listed = subprocess.run(
        [sys.executable, "-m", "backend.cli", "kb", "list", "--json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "elsewhere")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [(s["name"], s["version"], s["documents"]) for s in json.loads(listed.stdout)] == [
        ("guides", 2, 3)
    ]
