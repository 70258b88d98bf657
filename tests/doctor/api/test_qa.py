"""Clinical QA: grounded answers with sources, in Chinese and English; honest when nothing is found."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.clients import MakeClient
from tests.support.fake_llm import FakeLLM, fake_llm  # noqa: F401


def _ask(client: TestClient, question: str, **extra: object) -> dict:  # type: ignore[type-arg]
    response = client.post("/api/v1/medical/qa", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_chinese_question_is_answered_from_the_graph_with_sources(client: TestClient) -> None:
    body = _ask(client, "高血压有哪些症状？")
    assert {"name": "高血压", "type": "disease"} in body["entities"]
    assert "disease_symptom" in body["intents"]
    assert "头痛" in body["answer"] or "头晕" in body["answer"]
    assert body["sources"], "an answer must show its sources"
    first = body["sources"][0]
    assert (first["store"], first["doc_id"]) == ("diseases", "disease-hypertension")
    assert "[1]" in body["answer"]
    assert body["degraded"] is False
    assert body["cached"] is False
    assert "120" in body["disclaimer"]
    assert body["took_ms"] >= 0


def test_english_question_is_answered_in_english(client: TestClient) -> None:
    body = _ask(client, "What are the symptoms of asthma?")
    assert any(e["type"] == "disease" for e in body["entities"])
    assert "disease_symptom" in body["intents"]
    assert "wheez" in body["answer"].lower() or "cough" in body["answer"].lower()
    assert "doctor" in body["disclaimer"]


def test_symptom_question_lists_candidate_diseases(client: TestClient) -> None:
    body = _ask(client, "头痛可能是什么病？")
    assert "symptom_disease" in body["intents"]
    assert body["sources"]


def test_nothing_relevant_says_so_instead_of_guessing(client: TestClient) -> None:
    body = _ask(client, "量子色动力学中的渐近自由是什么意思")
    assert "没有找到" in body["answer"]
    assert body["sources"] == []


def test_unknown_store_is_a_404(client: TestClient) -> None:
    response = client.post("/api/v1/medical/qa", json={"question": "感冒", "stores": ["nope"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_question_length_and_unknown_fields_are_validated(client: TestClient) -> None:
    assert client.post("/api/v1/medical/qa", json={"question": ""}).status_code == 422
    assert client.post("/api/v1/medical/qa", json={"question": "x" * 501}).status_code == 422
    assert client.post("/api/v1/medical/qa", json={"question": "感冒", "debug": True}).status_code == 422


def test_batch_answers_in_parallel_and_a_bad_item_fails_alone(client: TestClient) -> None:
    response = client.post(
        "/api/v1/medical/qa/batch",
        json={
            "questions": [
                "高血压有哪些症状",
                "",
                {"question": "糖尿病怎么治疗"},
                {"question": "x", "stores": ["nope"]},
            ]
        },
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, True, False]
    assert results[1]["error"]["code"] == "validation_error"
    assert results[3]["error"]["code"] == "not_found"
    assert results[2]["result"]["sources"]


def test_llm_writes_the_answer_from_the_fenced_sources(make_client: MakeClient, fake_llm: FakeLLM) -> None:  # noqa: F811
    client = make_client(llm_base_url=fake_llm.url, llm_model="fake")
    body = _ask(client, "高血压有哪些症状？")
    assert body["answer"] == fake_llm.answer
    assert body["degraded"] is False
    prompt = fake_llm.requests[-1].messages[-1]["content"]
    assert "高血压" in prompt
    assert "[1]" in prompt


def test_llm_failures_degrade_to_the_grounded_answer_never_a_5xx(
    make_client: MakeClient,
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    client = make_client(
        llm_base_url=fake_llm.url,
        llm_model="fake",
        llm_timeout=0.5,
        llm_breaker_failures=3,
        metrics_token="s",
    )
    for mode in ("slow", "error", "malformed"):
        fake_llm.mode = mode
        body = _ask(client, "高血压有哪些症状？")
        assert body["degraded"] is True, mode
        assert "头痛" in body["answer"] or "头晕" in body["answer"]
        assert body["sources"]
    # Three failures opened the breaker: the next answer degrades without calling the model.
    calls = len(fake_llm.requests)
    fake_llm.mode = "ok"
    assert _ask(client, "哮喘有哪些症状？")["degraded"] is True
    assert len(fake_llm.requests) == calls
    metrics = client.get("/metrics", headers={"Authorization": "Bearer s"}).text
    assert "medqa_llm_breaker_state" in metrics


def test_connection_refused_degrades(make_client: MakeClient) -> None:
    from backend.devstack.processes import free_port

    client = make_client(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="fake")
    assert _ask(client, "高血压有哪些症状？")["degraded"] is True


def test_streamed_answer_sends_sources_first_then_the_text(
    make_client: MakeClient,
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    client = make_client(llm_base_url=fake_llm.url, llm_model="fake")
    fake_llm.mode = "stream"
    with client.stream(
        "POST", "/api/v1/medical/qa/stream", json={"question": "高血压有哪些症状？"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block.split("\n")[0] for block in text.strip().split("\n\n")]
    assert events[0] == "event: meta"
    assert events[-1] == "event: done"
    assert "event: delta" in events
    assert "help [1]." in text
