"""Pre-consultation sessions end to end: dialogue, submission to the doctors, erasure, failures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.devstack.redis_server import LocalRedis
from backend.doctor.app import create_doctor_app
from backend.patient.app import create_patient_app
from tests.support.auth import TEST_AUTH, admin_headers

# The assistant asks about 呼吸困难, 咳痰, 胸痛 in turn (the symptoms that best separate the candidates).
DIALOGUE_ZH = ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有", "没有", "35岁，女", "没有"]
DIALOGUE_EN = ["I have a cough and a fever", "three days", "6", "no", "yes", "no", "42, male", "none"]


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """The patient and the doctor service sharing one Redis key space and knowledge directory."""
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "redis_url": os.environ["REDIS_URL"],
            "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
            "rate_limit_default": "1000/minute",
            **TEST_AUTH,
        }
    )
    with (
        TestClient(create_patient_app(settings)) as patient,
        TestClient(create_doctor_app(settings)) as doctor,
    ):
        doctor.headers.update(admin_headers(doctor))
        yield patient, doctor


def _start(patient: TestClient) -> tuple[str, dict[str, str]]:
    created = patient.post("/api/v1/sessions")
    assert created.status_code == 201
    body = created.json()
    assert len(body["session_id"]) >= 22  # 128 bits
    return body["session_id"], {"Authorization": f"Bearer {body['token']}"}


def _say(patient: TestClient, session_id: str, auth: dict[str, str], text: str) -> dict[str, Any]:
    response = patient.post(f"/api/v1/sessions/{session_id}/messages", json={"text": text}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("messages", "department"), [(DIALOGUE_ZH, "呼吸内科"), (DIALOGUE_EN, "Respiratory Medicine")]
)
def test_a_full_dialogue_reaches_the_doctors_inbox(
    apps: tuple[TestClient, TestClient], messages: list[str], department: str
) -> None:
    patient, doctor = apps
    session_id, auth = _start(patient)
    stages = [_say(patient, session_id, auth, text)["stage"] for text in messages]
    assert stages[:3] == ["duration", "severity", "symptoms"]
    assert stages[-1] == "done"
    final = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
    collected = final["collected"]
    assert collected["duration"]
    assert collected["severity"] in (5, 6)
    assert collected["age"] in (35.0, 42.0)
    assert collected["sex"] in ("female", "male")
    assert final["triage"]["departments"][0]["name"] == department
    assert final["triage"]["emergency"] is False

    record_id = patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).json()["record_id"]
    assert (
        patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).json()["record_id"] == record_id
    )
    inbox = doctor.get("/api/v1/consultations").json()
    assert [item["id"] for item in inbox["items"]] == [record_id]
    record = doctor.get(f"/api/v1/consultations/{record_id}").json()
    assert record["status"] == "new"
    assert record["summary"]["collected"]["chief_complaint"] == messages[0]
    assert session_id not in str(record)
    assert (
        doctor.post(f"/api/v1/consultations/{record_id}/status", json={"status": "seen"}).json()["status"]
        == "seen"
    )
    assert doctor.get("/api/v1/consultations", params={"status": "new"}).json()["total"] == 0


def test_a_red_flag_interrupts_the_dialogue_with_emergency_advice(
    apps: tuple[TestClient, TestClient],
) -> None:
    patient, _ = apps
    session_id, auth = _start(patient)
    _say(patient, session_id, auth, "头痛")
    result = _say(patient, session_id, auth, "现在胸口剧痛，出冷汗")
    assert result["reply"].startswith("您描述的情况可能危及生命")
    assert result["triage"]["emergency"] is True
    assert result["triage"]["departments"][0]["name"] == "急诊科"
    assert patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).status_code == 200


def test_a_patient_needs_the_token_and_never_reaches_another_patients_session(
    apps: tuple[TestClient, TestClient],
) -> None:
    patient, _ = apps
    mine, my_auth = _start(patient)
    theirs, _ = _start(patient)
    assert patient.get(f"/api/v1/sessions/{mine}").status_code == 401
    for method, path, body in [
        ("GET", f"/api/v1/sessions/{theirs}", None),
        ("POST", f"/api/v1/sessions/{theirs}/messages", {"text": "我头痛"}),
        ("POST", f"/api/v1/sessions/{theirs}/submit", None),
        ("DELETE", f"/api/v1/sessions/{theirs}", None),
        ("GET", "/api/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA", None),
    ]:
        response = patient.request(method, path, json=body, headers=my_auth)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"


def test_two_messages_sent_at_once_both_land(apps: tuple[TestClient, TestClient]) -> None:
    patient, _ = apps
    session_id, auth = _start(patient)
    _say(patient, session_id, auth, "我头痛")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda text: _say(patient, session_id, auth, text), ["两天了", "还有点恶心"]))
    history = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()["history"]
    said = [m["text"] for m in history if m["role"] == "patient"]
    assert said[0] == "我头痛"
    assert sorted(said[1:]) == sorted(["两天了", "还有点恶心"])


def test_erasing_a_session_removes_it_and_its_submitted_summary(apps: tuple[TestClient, TestClient]) -> None:
    patient, doctor = apps
    session_id, auth = _start(patient)
    for text in DIALOGUE_ZH:
        _say(patient, session_id, auth, text)
    record_id = patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).json()["record_id"]
    assert patient.delete(f"/api/v1/sessions/{session_id}", headers=auth).status_code == 204
    assert patient.get(f"/api/v1/sessions/{session_id}", headers=auth).status_code == 404
    assert doctor.get(f"/api/v1/consultations/{record_id}").status_code == 404


def test_redis_down_answers_503_changes_nothing_and_recovers(
    tmp_path: Path, private_redis: LocalRedis
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        redis_url=private_redis.url,
        redis_retries=0,
        redis_connect_timeout=0.3,
        redis_socket_timeout=0.5,
        rate_limit_default="1000/minute",
    )
    with TestClient(create_patient_app(settings)) as patient:
        session_id, auth = _start(patient)
        _say(patient, session_id, auth, "我头痛")
        private_redis.stop()
        response = patient.post(
            f"/api/v1/sessions/{session_id}/messages", json={"text": "两天了"}, headers=auth
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "store_unavailable"
        private_redis.start()
        state = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
        assert state["stage"] == "duration"  # the failed message left no trace
        assert _say(patient, session_id, auth, "两天了")["stage"] == "severity"


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 1001}, {"text": "hi", "extra": 1}])
def test_bad_messages_get_a_json_error(apps: tuple[TestClient, TestClient], body: dict[str, Any]) -> None:
    patient, _ = apps
    session_id, auth = _start(patient)
    response = patient.post(f"/api/v1/sessions/{session_id}/messages", json=body, headers=auth)
    assert response.status_code == 422


def test_the_greeting_speaks_the_portals_language(apps: tuple[TestClient, TestClient]) -> None:
    patient, _ = apps
    assert patient.post("/api/v1/sessions").json()["reply"].startswith("您好")
    english = patient.post("/api/v1/sessions", json={"language": "en"}).json()
    assert english["reply"].startswith("Hello")
    assert patient.post("/api/v1/sessions", json={"language": "fr"}).status_code == 422
