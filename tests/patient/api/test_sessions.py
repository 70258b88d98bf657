"""Pre-consultation sessions end to end: dialogue, submission to the doctors, erasure, failures."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.core.rules import RulesError
from backend.devstack.redis_server import LocalRedis
from backend.doctor.app import create_doctor_app
from backend.patient.app import create_patient_app
from backend.patient.services import dialogue_rules
from tests.support.auth import TEST_AUTH, admin_headers
from tests.support.database import TestDatabases

# The assistant asks about 呼吸困难, 咽痛, 流涕 in turn (the symptoms that best separate the candidates),
# then age and sex, whether she may be pregnant, and past illnesses, allergies and medicines at once.
DIALOGUE_ZH = ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有一点", "没有", "35岁，女", "没有", "没有"]
DIALOGUE_EN = ["I have a cough and a fever", "three days", "6", "no", "a bit", "no", "42, male", "none"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": tmp_path,
            "database_url": database_url,
            "redis_url": os.environ["REDIS_URL"],
            "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
            "rate_limit_default": "1000/minute",
            **TEST_AUTH,
        }
    )


@pytest.fixture(scope="module")
def patient_app(
    tmp_path_factory: pytest.TempPathFactory, test_databases: TestDatabases
) -> Iterator[TestClient]:
    """One patient service for the tests that need nothing else (the knowledge base takes seconds)."""
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path_factory.mktemp("patient"),
            "database_url": test_databases.fresh(),
            "redis_url": os.environ["REDIS_URL"],
            "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
            "rate_limit_default": "100000/minute",
        }
    )
    with TestClient(create_patient_app(settings)) as patient:
        yield patient


@pytest.fixture
def apps(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """The patient and the doctor service sharing one Redis key space and knowledge directory."""
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
    answers = [_say(patient, session_id, auth, text) for text in messages]
    stages = [answer["stage"] for answer in answers]
    # The symptoms the patient said "no" to, whichever the knowledge graph chose to ask about.
    declined = [
        question.group(1) or question.group(2)
        for answer, text in zip(answers, messages[1:], strict=False)
        if text in ("没有", "no")
        and (question := re.search(r"您有没有(.+?)？|Do you (?:also )?have (.+?)\?", answer["reply"]))
    ]
    assert stages[:3] == ["duration", "severity", "symptoms"]
    assert stages[-1] == "done"
    final = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
    collected = final["collected"]
    assert collected["duration"] == {"text": messages[1].removesuffix("了"), "days": 3.0}
    assert collected["severity"]["score"] in (5, 6)
    assert collected["age"] in (35.0, 42.0)
    assert collected["sex"] in ("female", "male")
    assert collected["symptoms"][:2] == ["咳嗽", "发热"]
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
    summary = record["summary"]
    assert summary["format"] == 2
    assert summary["collected"]["chief_complaint"] == summary["said"]["chief_complaint"] == messages[0]
    assert summary["said"]["duration"]["days"] == 3.0
    assert declined
    denied = summary["denied"]["symptoms"]
    denied_en = [summary["names_en"].get(name) for name in denied]
    assert all(name in denied or name in denied_en for name in declined)
    assert {"past_illnesses", "allergies", "medications"} <= set(summary["denied"]["slots"])
    assert summary["not_asked"] == []
    assert summary["not_answered"] == {"slots": [], "symptoms": []}
    assert summary["names_en"]["咳嗽"] == "cough"
    assert summary["transcript"][1]["text"] == messages[0]
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
    tmp_path: Path, private_redis: LocalRedis, database_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
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


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "   \n "},
        {"text": "胸口疼" * 334},
        {"text": "头痛\u0000三天"},
        {"text": 42},
        {"text": "hi", "extra": 1},
    ],
)
def test_bad_messages_get_a_json_error_that_never_echoes_them(
    patient_app: TestClient, body: dict[str, Any]
) -> None:
    patient = patient_app
    session_id, auth = _start(patient)
    response = patient.post(f"/api/v1/sessions/{session_id}/messages", json=body, headers=auth)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "胸口疼" not in response.text
    assert "头痛" not in response.text
    session = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
    assert len(session["history"]) == 1  # the greeting: nothing was written


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("😭😭😭", "complaint"),
        ("没有不舒服", "complaint"),
        ("不发烧，发烧38度", "duration"),
        ("我headache三天了, 很难受", "symptoms"),
        ("头" * 1000, "duration"),
        ("？？？！！！", "complaint"),
    ],
)
def test_odd_messages_get_a_clear_answer_and_one_whole_turn(
    patient_app: TestClient, text: str, stage: str
) -> None:
    patient = patient_app
    session_id, auth = _start(patient)
    answer = _say(patient, session_id, auth, text)
    assert answer["stage"] == stage
    assert answer["reply"]
    session = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
    assert [m["role"] for m in session["history"]] == ["assistant", "patient", "assistant"]


def test_a_session_begun_before_the_slot_filling_release_continues(
    apps: tuple[TestClient, TestClient], settings: Settings
) -> None:
    """A schema-1 session in Redis (the fixed form, halfway) is read in the new layout and finished."""
    patient, _ = apps
    session_id, auth = _start(patient)
    token = auth["Authorization"].removeprefix("Bearer ")
    old_state = {
        "stage": "symptoms",
        "language": "zh",
        "collected": {
            "chief_complaint": "我咳嗽，还有点发热",
            "duration": "三天了",
            "severity": 5,
            "symptoms": ["咳嗽", "发热"],
            "denied_symptoms": [],
            "age": None,
            "sex": None,
            "history": None,
            "allergies": None,
        },
        "asked_symptoms": ["呼吸困难"],
        "pending_symptom": "呼吸困难",
        "red_flags": [],
        "triage": None,
        "record_id": None,
        "history": [{"role": "assistant", "text": "您好"}, {"role": "patient", "text": "我咳嗽，还有点发热"}],
    }
    document = {
        "schema": 1,
        "version": 4,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "created_at": 1.0,
        "updated_at": 2.0,
        "state": old_state,
    }
    key = f"{settings.redis_key_prefix}session:{session_id}"
    with redis.Redis.from_url(settings.redis_url) as raw:
        raw.set(key, orjson.dumps(document), ex=60)
        answer = _say(patient, session_id, auth, "没有")  # to "您有没有呼吸困难？"
        assert answer["collected"]["denied_symptoms"] == ["呼吸困难"]
        assert answer["collected"]["duration"]["text"] == "三天了"
        assert answer["collected"]["severity"]["score"] == 5
        assert answer["stage"] == "symptoms"
        stored = orjson.loads(raw.get(key) or b"{}")
    assert (stored["schema"], stored["version"]) == (2, 5)
    assert stored["state"]["asked"]["duration"] == 1
    for text in ("没有", "没有", "50岁，男", "没有"):
        answer = _say(patient, session_id, auth, text)
    assert answer["stage"] == "done"
    assert patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).status_code == 200


def test_a_submitted_session_takes_no_more_messages(patient_app: TestClient) -> None:
    patient = patient_app
    session_id, auth = _start(patient)
    _say(patient, session_id, auth, "突然胸口剧痛，喘不上气")
    assert patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).status_code == 200
    response = patient.post(f"/api/v1/sessions/{session_id}/messages", json={"text": "还有"}, headers=auth)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_the_greeting_speaks_the_portals_language(patient_app: TestClient) -> None:
    patient = patient_app
    assert patient.post("/api/v1/sessions").json()["reply"].startswith("您好")
    english = patient.post("/api/v1/sessions", json={"language": "en"}).json()
    assert english["reply"].startswith("Hello")
    assert patient.post("/api/v1/sessions", json={"language": "fr"}).status_code == 422


def test_a_bad_rule_file_stops_the_service_at_start_naming_it(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(dialogue_rules.RULES_DIR, rules_dir)
    answers = (rules_dir / "answers.toml").read_text(encoding="utf-8")
    (rules_dir / "answers.toml").write_text(
        answers.replace("[[", "[").replace("skip = [", "skip = "), "utf-8"
    )
    monkeypatch.setattr(dialogue_rules, "RULES_DIR", rules_dir)
    dialogue_rules.rules.cache_clear()
    try:
        with pytest.raises(RulesError, match=r"answers\.toml"), TestClient(create_patient_app(settings)):
            pass
    finally:
        dialogue_rules.rules.cache_clear()
