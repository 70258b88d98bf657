"""Pre-consultation sessions with a language model configured (the fake OpenAI-compatible server):
one model call per message, its reading used, and the dialogue unharmed when the model fails."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.support.clients import MakeClient
from tests.support.fake_llm import FakeLLM, fake_llm  # noqa: F401

DIALOGUE = ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有一点", "没有", "35岁，女", "没有", "没有"]


def _start(patient: TestClient) -> tuple[str, dict[str, str]]:
    body = patient.post("/api/v1/sessions").json()
    return body["session_id"], {"Authorization": f"Bearer {body['token']}"}


def _stages(patient: TestClient, messages: list[str]) -> tuple[str, dict[str, str], list[str]]:
    session_id, auth = _start(patient)
    stages = []
    for text in messages:
        response = patient.post(f"/api/v1/sessions/{session_id}/messages", json={"text": text}, headers=auth)
        assert response.status_code == 200, response.text
        stages.append(response.json()["stage"])
    return session_id, auth, stages


def test_a_failing_model_changes_nothing_the_patient_sees(
    make_client: MakeClient,
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    without = make_client()
    _, _, expected = _stages(without, DIALOGUE)
    fake_llm.mode = "error"
    patient = make_client(llm_base_url=fake_llm.url, llm_model="fake", llm_breaker_failures=100)
    session_id, auth, stages = _stages(patient, DIALOGUE)
    assert stages == expected
    assert stages[-1] == "done"
    assert fake_llm.calls == len(DIALOGUE)  # one call per message, none repeated
    assert patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).status_code == 200


def test_what_the_model_reads_is_used_and_never_asked_again(
    make_client: MakeClient,
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    fake_llm.answer = json.dumps({"slots": {"age": 40, "sex": "male", "allergies": []}, "answer": None})
    patient = make_client(llm_base_url=fake_llm.url, llm_model="fake")
    session_id, auth, stages = _stages(patient, ["俺是个四十岁的汉子，这两天嗓子疼得厉害"])
    assert stages == ["symptoms"]
    session = patient.get(f"/api/v1/sessions/{session_id}", headers=auth).json()
    collected = session["collected"]
    assert (collected["age"], collected["sex"], collected["allergies"]) == (40.0, "male", [])
    assert collected["duration"]["days"] == 2.0  # the rules' reading, alongside
    for _ in range(8):
        if stages[-1] == "done":
            break
        answer = patient.post(f"/api/v1/sessions/{session_id}/messages", json={"text": "没有"}, headers=auth)
        stages.append(answer.json()["stage"])
    assert stages[-1] == "done"
    assert not {"profile", "age", "sex", "pregnancy", "history", "allergies"} & set(stages)
    record = patient.post(f"/api/v1/sessions/{session_id}/submit", headers=auth).json()
    assert record["record_id"]
