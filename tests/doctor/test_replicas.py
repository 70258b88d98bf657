"""Doctor instances with their own DATA_DIRs and one DATABASE_URL serve one knowledge base."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import redis as redis_sync

from backend.devstack.postgres_server import LocalPostgres
from backend.devstack.redis_server import LocalRedis
from tests.conftest import Service, StartService
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers

DOCTOR = "backend.doctor.app:app"
PROJECT = Path(__file__).resolve().parents[2]
VISIBLE_WITHIN = 5.0
DOCS = [
    {
        "id": "takayasu",
        "title": "Takayasu arteritis",
        "text": "Takayasu arteritis: pulseless arms, claudication.",
    },
    {
        "id": "kawasaki",
        "title": "Kawasaki disease",
        "text": "Kawasaki disease: fever five days, strawberry tongue.",
    },
]


def _found(service: Service, query: str, headers: dict[str, str]) -> list[str]:
    response = httpx.post(
        f"{service.url}/api/v1/kb/search",
        json={"query": query, "stores": ["rare"]},
        headers=headers,
        timeout=15,
    )
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return [hit["doc_id"] for hit in response.json()["hits"]]


WRITING_CHUNKS = (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO kb_chunks%'"
)


def _scalar(database_url: str, query: str) -> int:
    async def run() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            return int(await connection.fetchval(query))
        finally:
            await connection.close()

    return asyncio.run(run())


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """How long `check` took to hold, failing after `seconds`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_an_import_on_one_instance_is_served_by_the_other_and_a_delete_on_the_other_by_both(
    start_service: StartService, private_redis: LocalRedis
) -> None:
    env = {"WORKERS": "2", "REDIS_URL": private_redis.url, "REDIS_KEY_PREFIX": "replicas:", **TEST_AUTH_ENV}
    first, second = start_service(DOCTOR, **env), start_service(DOCTOR, **env)
    admin = service_admin_headers(first.url)
    added = httpx.post(
        f"{first.url}/api/v1/kb/stores/rare/documents", json={"documents": DOCS}, headers=admin
    )
    assert added.status_code == 201, added.text

    _within(VISIBLE_WITHIN, lambda: _found(second, "strawberry tongue", admin)[:1] == ["kawasaki"])
    deleted = httpx.delete(f"{second.url}/api/v1/kb/stores/rare/documents/kawasaki", headers=admin)
    assert deleted.status_code == 200, deleted.text
    for service in (first, second):

        def gone(service: Service = service) -> bool:
            return "kawasaki" not in _found(service, "strawberry tongue fever", admin)

        _within(VISIBLE_WITHIN, gone)
        assert _found(service, "pulseless arms", admin) == ["takayasu"]

    # Redis forgets everything: the knowledge, and the accounts signing in to it, are in the database.
    redis_sync.Redis.from_url(private_redis.url).flushall()
    admin = service_admin_headers(second.url)
    assert _found(second, "pulseless arms", admin) == ["takayasu"]

    third = start_service(DOCTOR, **env)  # an empty DATA_DIR: everything comes from the database
    assert _found(third, "pulseless arms", admin) == ["takayasu"]
    stores = httpx.get(f"{third.url}/api/v1/kb/stores", headers=admin).json()["stores"]
    assert {store["name"]: store["documents"] for store in stores}["rare"] == 1


def test_an_import_killed_midway_is_applied_nowhere(
    start_service: StartService, database_url: str, tmp_path: Path
) -> None:
    service = start_service(DOCTOR, WORKERS="1", **TEST_AUTH_ENV)
    admin = service_admin_headers(service.url)
    assert (
        httpx.post(
            f"{service.url}/api/v1/kb/stores/rare/documents", json={"documents": DOCS[:1]}, headers=admin
        ).status_code
        == 201
    )
    big = tmp_path / "big.jsonl"
    with big.open("w") as out:
        for n in range(6_000):
            row = {"id": f"d{n}", "title": f"note {n}", "text": f"Clinical note {n} on arteritis. " * 20}
            out.write(json.dumps(row) + "\n")
    importer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "kb",
            "import",
            "--format",
            "jsonl",
            "--store",
            "rare",
            str(big),
        ],
        cwd=PROJECT,
        env={**os.environ, "DATA_DIR": str(tmp_path / "cli"), "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The importer is writing its chunks, inside its one transaction: kill it there.
        _within(90, lambda: _scalar(database_url, WRITING_CHUNKS) > 0)
        importer.send_signal(signal.SIGKILL)
        importer.wait(10)
    finally:
        importer.kill()
    _within(
        10, lambda: _scalar(database_url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    )
    assert _scalar(database_url, "SELECT count(*) FROM kb_documents WHERE store = 'rare'") == 1
    assert _found(service, "arteritis clinical note", admin) == ["takayasu"]
    again = httpx.post(
        f"{service.url}/api/v1/kb/stores/rare/documents", json={"documents": DOCS[1:]}, headers=admin
    )
    assert again.status_code == 201, again.text  # the store's lock went with the killed writer
    assert again.json()["documents"] == 2


def test_an_instance_started_with_the_database_down_answers_then_joins_it(
    start_service: StartService, private_postgres: LocalPostgres
) -> None:
    private_postgres.stop()
    service = start_service(
        DOCTOR, WORKERS="1", DATABASE_URL=private_postgres.url, DATABASE_TIMEOUT="1", **TEST_AUTH_ENV
    )
    ready = httpx.get(f"{service.url}/readyz", timeout=15)
    assert (ready.status_code, ready.json()["status"]) == (200, "degraded")  # the starter store is here
    private_postgres.start()
    # The starter store it built alone goes into the database, for every replica to serve.
    query = "SELECT count(*) FROM kb_stores WHERE name = 'diseases' AND deleted_at IS NULL"
    _within(30, lambda: _scalar_or_zero(private_postgres.url, query) == 1)


def _scalar_or_zero(database_url: str, query: str) -> int:
    try:
        return _scalar(database_url, query)
    except (OSError, asyncpg.PostgresError):
        return 0  # starting, or not migrated yet
