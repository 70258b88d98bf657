"""Accounts, consultation records and the audit trail live in PostgreSQL: a Redis FLUSHALL loses none of
them, the audit trail cannot be changed, a database outage answers 503 and heals, racing instances start."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis as redis_sync
from sqlalchemy import text

from backend.core.config import Settings
from backend.core.consultations import ConsultationStore
from backend.core.db.engine import Database, create_engine
from backend.devstack.postgres_server import LocalPostgres
from backend.devstack.redis_server import LocalRedis
from tests.conftest import StartService
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME, TEST_AUTH_ENV, bearer, service_admin_headers

DOCTOR = "backend.doctor.app:app"


def _submit(database_url: str) -> str:
    async def submit() -> str:
        database = Database(create_engine(Settings(database_url=database_url)), 5.0)
        try:
            store = ConsultationStore(database, retention_seconds=3600)
            record = await store.submit({"chief_complaint": "头痛"}, department="neuro", session_id="s-1")
            return str(record["id"])
        finally:
            await database.engine.dispose()

    return asyncio.run(submit())


def _sign_in(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/auth/token", data={"username": username, "password": password}, timeout=15
    )


def test_a_redis_flushall_loses_no_account_record_or_audit_entry(
    start_service: StartService, private_redis: LocalRedis, database_url: str
) -> None:
    service = start_service(DOCTOR, WORKERS="2", REDIS_URL=private_redis.url, **TEST_AUTH_ENV)
    admin = service_admin_headers(service.url)
    created = httpx.post(
        f"{service.url}/api/v1/admin/users",
        json={"username": "dr-li", "password": "dr-li-password", "role": "doctor"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    record_id = _submit(database_url)
    assert httpx.get(f"{service.url}/api/v1/consultations/{record_id}", headers=admin).status_code == 200

    redis_sync.Redis.from_url(private_redis.url).flushall()

    signed_in = _sign_in(service.url, "dr-li", "dr-li-password")
    assert signed_in.status_code == 200, signed_in.text
    doctor = bearer(signed_in.json()["access_token"])
    assert (
        httpx.get(f"{service.url}/api/v1/consultations/{record_id}", headers=doctor).json()["id"] == record_id
    )
    entries = httpx.get(f"{service.url}/api/v1/admin/audit", headers=admin).json()["entries"]
    assert {(e["actor"], e["record"]) for e in entries} >= {("admin", "dr-li"), ("admin", record_id)}


def test_no_route_and_no_sql_role_changes_or_deletes_an_audit_entry(
    start_service: StartService, database_url: str
) -> None:
    service = start_service(DOCTOR, WORKERS="1", **TEST_AUTH_ENV)
    admin = service_admin_headers(service.url)
    new_user = {"username": "dr-wang", "password": "dr-wang-password", "role": "doctor"}
    assert httpx.post(f"{service.url}/api/v1/admin/users", json=new_user, headers=admin).status_code == 201
    before = httpx.get(f"{service.url}/api/v1/admin/audit", headers=admin).json()["entries"]
    assert before
    entry = before[0]["id"]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/api/v1/admin/audit", f"/api/v1/admin/audit/{entry}"):
            response = httpx.request(method, f"{service.url}{path}", headers=admin, json={})
            assert response.status_code in (404, 405), (method, path, response.status_code)

    async def tamper() -> list[str]:
        database = Database(create_engine(Settings(database_url=database_url)), 5.0)
        refused = []
        try:
            for statement in (
                "UPDATE audit_log SET actor = 'someone-else'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                # Even posing as the retention purge, an entry younger than the cutoff cannot go.
                "SELECT set_config('medqa.audit_purge_before', '1', true); DELETE FROM audit_log",
            ):
                try:
                    async with database.engine.begin() as connection:
                        for part in statement.split("; "):
                            await connection.execute(text(part))
                except Exception as error:
                    refused.append(type(error).__name__)
            return refused
        finally:
            await database.engine.dispose()

    assert asyncio.run(tamper()) == ["ProgrammingError"] * 4
    after = httpx.get(f"{service.url}/api/v1/admin/audit", headers=admin).json()["entries"]
    assert [e for e in after if e["id"] in {b["id"] for b in before}] == before


def test_database_down_answers_503_keeps_qa_and_recovers(
    start_service: StartService, private_postgres: LocalPostgres
) -> None:
    service = start_service(
        DOCTOR, WORKERS="2", DATABASE_URL=private_postgres.url, DATABASE_TIMEOUT="1", **TEST_AUTH_ENV
    )
    admin = service_admin_headers(service.url)
    question = {"question": "高血压有哪些症状"}
    assert httpx.post(f"{service.url}/api/v1/medical/qa", json=question, headers=admin).status_code == 200

    private_postgres.stop()
    try:
        refused = _sign_in(service.url, ADMIN_USERNAME, ADMIN_PASSWORD)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "store_unavailable"
        for method, path, body in (
            ("GET", "/api/v1/consultations", None),
            (
                "POST",
                "/api/v1/admin/users",
                {"username": "dr-x", "password": "dr-x-password", "role": "doctor"},
            ),
            (
                "POST",
                "/api/v1/kb/stores/notes/documents",
                {"documents": [{"id": "n1", "title": "note", "text": "A note on gout."}]},
            ),
        ):
            response = httpx.request(method, f"{service.url}{path}", json=body, headers=admin, timeout=15)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"]["code"] == "store_unavailable"
        answered = httpx.post(f"{service.url}/api/v1/medical/qa", json=question, headers=admin, timeout=15)
        assert answered.status_code == 200
        ready = httpx.get(f"{service.url}/readyz", timeout=15)
        assert (ready.status_code, ready.json()["status"]) == (200, "degraded")
    finally:
        private_postgres.start()

    deadline = time.monotonic() + 20
    while _sign_in(service.url, ADMIN_USERNAME, ADMIN_PASSWORD).status_code != 200:
        assert time.monotonic() < deadline, "sign-in did not recover after the database came back"
        time.sleep(0.5)
    assert (
        httpx.get(f"{service.url}/api/v1/admin/users", headers=admin).json()["users"][0]["username"]
        == "admin"
    )
    assert httpx.get(f"{service.url}/readyz").json()["status"] == "ready"
    stores = httpx.get(f"{service.url}/api/v1/kb/stores", headers=admin).json()["stores"]
    assert "notes" not in {store["name"] for store in stores}  # the refused write changed nothing


@pytest.mark.timeout(180)
def test_two_instances_bootstrapping_the_first_admin_together_both_start(start_service: StartService) -> None:
    first, second = (start_service(DOCTOR, wait=False, WORKERS="2", **TEST_AUTH_ENV) for _ in range(2))
    for service in (first, second):
        deadline = time.monotonic() + 90
        while service.log().count('"msg":"worker ready"') < 2:
            assert service.process.poll() is None, service.log()[-3000:]
            assert time.monotonic() < deadline, service.log()[-3000:]
            time.sleep(0.2)
        assert _sign_in(service.url, ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 200
    assert "Traceback" not in first.log() + second.log()
