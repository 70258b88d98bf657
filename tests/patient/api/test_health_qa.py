"""POST /api/v1/health/qa: plain answers for patients, never a dose, emergency advice first."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.core.knowledge.qa.safety import has_dose
from tests.support.clients import MakeClient


def test_a_health_question_is_answered_with_sources_a_disclaimer_and_when_to_see_a_doctor(
    client: TestClient,
) -> None:
    body = client.post("/api/v1/health/qa", json={"question": "湿疹有哪些症状？"}).json()
    assert "湿疹" in body["answer"]
    assert body["sources"]
    assert body["disclaimer"]
    assert body["see_a_doctor"]
    assert body["emergency"] is False


def test_patients_get_no_drug_lists_and_no_doses(client: TestClient) -> None:
    for question in ["高血压吃什么药？", "What drugs treat asthma?", "糖尿病怎么治疗？"]:
        body = client.post("/api/v1/health/qa", json={"question": question}).json()
        assert not has_dose(body["answer"])
        assert "常用药物" not in body["answer"]


def test_a_red_flag_in_a_question_puts_emergency_advice_first(client: TestClient) -> None:
    body = client.post("/api/v1/health/qa", json={"question": "胸口剧痛还出冷汗是怎么回事？"}).json()
    assert body["emergency"] is True
    assert body["answer"].startswith("您描述的情况可能危及生命")
    assert "120" in body["answer"]


def test_health_questions_have_their_own_stricter_limit(make_client: MakeClient) -> None:
    client = make_client(rate_limit_health="2/minute")
    statuses = [
        client.post("/api/v1/health/qa", json={"question": "感冒怎么办"}).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_the_limit_headers_come_with_answers_not_with_refused_questions(client: TestClient) -> None:
    answered = client.post("/api/v1/health/qa", json={"question": "感冒怎么办"})
    refused = client.post("/api/v1/health/qa", json={"question": ""})

    assert answered.status_code == 200
    assert answered.headers["x-ratelimit-limit"] == "1000"
    assert int(answered.headers["x-ratelimit-remaining"]) < 1000
    assert refused.status_code == 422
    assert "x-ratelimit-limit" not in refused.headers
    assert refused.headers["x-request-id"]
