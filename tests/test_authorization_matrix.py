"""Who may call what: every API route of both services × {anonymous, patient A, patient B, doctor, admin}.

The route list is checked against the apps' own routes, so a new route without a row here fails.
Within a row the owner of what is touched acts last (the admin on admin routes, patient A on A's
session), so a 404 for the others is not merely "already deleted".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.doctor.app import create_doctor_app
from backend.patient.app import create_patient_app
from tests.support.auth import ADMIN_PASSWORD, ADMIN_USERNAME, TEST_AUTH, bearer, login
from tests.support.database import TestDatabases

PRINCIPALS = ("anonymous", "patient_a", "patient_b", "doctor", "admin")
DOCTOR = ("dr-matrix", "doctor-password-1")
QUESTION = {"question": "高血压有哪些症状？"}


@dataclass
class World:
    doctor: TestClient
    patient: TestClient
    headers: dict[str, dict[str, str]]
    values: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, test_databases: TestDatabases) -> Iterator[World]:
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path_factory.mktemp("matrix"),
            "database_url": test_databases.fresh(),
            "redis_url": os.environ["REDIS_URL"],
            "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
            "rate_limit_default": "100000/minute",
            "rate_limit_qa": "100000/minute",
            "rate_limit_health": "100000/minute",
            **TEST_AUTH,
        }
    )
    with (
        TestClient(create_doctor_app(settings)) as doctor,
        TestClient(create_patient_app(settings)) as patient,
    ):
        admin = bearer(str(login(doctor, ADMIN_USERNAME, ADMIN_PASSWORD)["access_token"]))
        doctor.post("/api/v1/admin/users", json={"username": DOCTOR[0], "password": DOCTOR[1]}, headers=admin)
        doctor_token = bearer(str(login(doctor, *DOCTOR)["access_token"]))
        sessions = {}
        for name in ("a", "b", "c"):
            created = patient.post("/api/v1/sessions").json()
            sessions[name] = (created["session_id"], bearer(created["token"]))
        # Session C runs to the end and submits, so the inbox has a record to read.
        c_id, c_auth = sessions["c"]
        for text in ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有", "没有", "35岁，男", "没有"]:
            patient.post(f"/api/v1/sessions/{c_id}/messages", json={"text": text}, headers=c_auth)
        record = patient.post(f"/api/v1/sessions/{c_id}/submit", headers=c_auth).json()
        yield World(
            doctor=doctor,
            patient=patient,
            headers={
                "anonymous": {},
                "patient_a": sessions["a"][1],
                "patient_b": sessions["b"][1],
                "doctor": doctor_token,
                "admin": admin,
            },
            values={
                "session_id": sessions["a"][0],
                "record_id": record["record_id"],
                "store": "matrix",
                "doc_id": "doc-1",
                "username": "dr-temp",
                "name": "高血压",
            },
        )


SIGNED_IN = {"anonymous": 401, "patient_a": 401, "patient_b": 401, "doctor": 200, "admin": 200}


def admin_only(status: int) -> dict[str, int]:
    return {"anonymous": 401, "patient_a": 401, "patient_b": 401, "doctor": 403, "admin": status}


def public(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


def session_owner(status: int) -> dict[str, int]:
    # No token is 401; any other token, a doctor's included, finds no such session.
    return {"anonymous": 401, "patient_b": 404, "doctor": 404, "admin": 404, "patient_a": status}


# (service, method, route, concrete path, JSON body or None, expected status per principal), in order.
ROWS: list[tuple[str, str, str, str, Any, dict[str, int]]] = [
    ("doctor", "GET", "/api/v1/ping", "/api/v1/ping", None, SIGNED_IN),
    ("doctor", "GET", "/api/v1/auth/me", "/api/v1/auth/me", None, SIGNED_IN),
    ("doctor", "POST", "/api/v1/medical/qa", "/api/v1/medical/qa", QUESTION, SIGNED_IN),
    (
        "doctor",
        "POST",
        "/api/v1/medical/qa/batch",
        "/api/v1/medical/qa/batch",
        {"questions": ["感冒怎么办？"]},
        SIGNED_IN,
    ),
    ("doctor", "POST", "/api/v1/medical/qa/stream", "/api/v1/medical/qa/stream", QUESTION, SIGNED_IN),
    ("doctor", "POST", "/api/v1/kb/search", "/api/v1/kb/search", {"query": "高血压"}, SIGNED_IN),
    ("doctor", "GET", "/api/v1/kb/stores", "/api/v1/kb/stores", None, SIGNED_IN),
    (
        "doctor",
        "POST",
        "/api/v1/kb/stores/{store}/documents",
        "/api/v1/kb/stores/{store}/documents",
        {"documents": [{"id": "doc-1", "title": "本院高血压门诊", "text": "本院高血压门诊在门诊楼二层。"}]},
        admin_only(201),
    ),
    (
        "doctor",
        "GET",
        "/api/v1/kb/stores/{store}/documents",
        "/api/v1/kb/stores/{store}/documents",
        None,
        SIGNED_IN,
    ),
    (
        "doctor",
        "GET",
        "/api/v1/kb/stores/{store}/documents/{doc_id}",
        "/api/v1/kb/stores/{store}/documents/{doc_id}",
        None,
        SIGNED_IN,
    ),
    (
        "doctor",
        "DELETE",
        "/api/v1/kb/stores/{store}/documents/{doc_id}",
        "/api/v1/kb/stores/{store}/documents/{doc_id}",
        None,
        admin_only(200),
    ),
    ("doctor", "DELETE", "/api/v1/kb/stores/{store}", "/api/v1/kb/stores/{store}", None, admin_only(204)),
    ("doctor", "GET", "/api/v1/kg/entities", "/api/v1/kg/entities?text=高血压头痛", None, SIGNED_IN),
    ("doctor", "GET", "/api/v1/kg/diseases/{name}", "/api/v1/kg/diseases/{name}", None, SIGNED_IN),
    ("doctor", "GET", "/api/v1/departments", "/api/v1/departments", None, SIGNED_IN),
    ("doctor", "GET", "/api/v1/consultations", "/api/v1/consultations", None, SIGNED_IN),
    (
        "doctor",
        "GET",
        "/api/v1/consultations/{record_id}",
        "/api/v1/consultations/{record_id}",
        None,
        SIGNED_IN,
    ),
    (
        "doctor",
        "POST",
        "/api/v1/consultations/{record_id}/status",
        "/api/v1/consultations/{record_id}/status",
        {"status": "seen"},
        SIGNED_IN,
    ),
    ("doctor", "GET", "/api/v1/admin/cache/stats", "/api/v1/admin/cache/stats", None, admin_only(200)),
    (
        "doctor",
        "POST",
        "/api/v1/admin/cache/flush",
        "/api/v1/admin/cache/flush",
        {"kind": "qa"},
        admin_only(200),
    ),
    ("doctor", "GET", "/api/v1/admin/users", "/api/v1/admin/users", None, admin_only(200)),
    (
        "doctor",
        "POST",
        "/api/v1/admin/users",
        "/api/v1/admin/users",
        {"username": "dr-temp", "password": "a-long-password"},
        admin_only(201),
    ),
    (
        "doctor",
        "PATCH",
        "/api/v1/admin/users/{username}",
        "/api/v1/admin/users/{username}",
        {"role": "admin"},
        admin_only(200),
    ),
    (
        "doctor",
        "DELETE",
        "/api/v1/admin/users/{username}",
        "/api/v1/admin/users/{username}",
        None,
        admin_only(204),
    ),
    ("doctor", "GET", "/api/v1/admin/audit", "/api/v1/admin/audit", None, admin_only(200)),
    ("doctor", "POST", "/api/v1/auth/token", "/api/v1/auth/token", "LOGIN", public(200)),
    ("doctor", "POST", "/api/v1/auth/refresh", "/api/v1/auth/refresh", "REFRESH", public(200)),
    (
        "doctor",
        "POST",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout",
        {},
        {**SIGNED_IN, "doctor": 204, "admin": 204},
    ),
    ("patient", "GET", "/api/v1/ping", "/api/v1/ping", None, public(200)),
    ("patient", "POST", "/api/v1/triage", "/api/v1/triage", {"complaint": "咳嗽三天"}, public(200)),
    ("patient", "GET", "/api/v1/departments", "/api/v1/departments", None, public(200)),
    (
        "patient",
        "POST",
        "/api/v1/health/qa",
        "/api/v1/health/qa",
        {"question": "感冒了怎么办？"},
        public(200),
    ),
    ("patient", "POST", "/api/v1/sessions", "/api/v1/sessions", None, public(201)),
    (
        "patient",
        "GET",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}",
        None,
        session_owner(200),
    ),
    (
        "patient",
        "POST",
        "/api/v1/sessions/{session_id}/messages",
        "/api/v1/sessions/{session_id}/messages",
        {"text": "我头痛"},
        session_owner(200),
    ),
    # The owner may submit, but only a finished pre-consultation: 409 is "yours, not yet".
    (
        "patient",
        "POST",
        "/api/v1/sessions/{session_id}/submit",
        "/api/v1/sessions/{session_id}/submit",
        None,
        session_owner(409),
    ),
    (
        "patient",
        "DELETE",
        "/api/v1/sessions/{session_id}",
        "/api/v1/sessions/{session_id}",
        None,
        session_owner(204),
    ),
]


def _api_routes(client: TestClient) -> set[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {
        (method.upper(), path) for path, item in paths.items() if path.startswith("/api") for method in item
    }


def test_every_api_route_has_a_row(world: World) -> None:
    for service, client in (("doctor", world.doctor), ("patient", world.patient)):
        rows = {(method, route) for svc, method, route, *_ in ROWS if svc == service}
        assert rows == _api_routes(client), service


def test_each_principal_gets_exactly_the_expected_status(world: World) -> None:
    failures = []
    for service, method, route, path, body, expected in ROWS:
        client = world.doctor if service == "doctor" else world.patient
        url = path.format(**world.values)
        for principal, status in expected.items():
            kwargs: dict[str, Any] = {"headers": world.headers[principal]}
            if body == "LOGIN":
                kwargs["data"] = {"username": DOCTOR[0], "password": DOCTOR[1]}
            elif body == "REFRESH":
                kwargs["json"] = {"refresh_token": login(world.doctor, *DOCTOR)["refresh_token"]}
            elif body is not None:
                kwargs["json"] = body
            got = client.request(method, url, **kwargs).status_code
            if got != status:
                failures.append(f"{service} {method} {route} as {principal}: {got}, expected {status}")
    assert not failures, "\n".join(failures)
