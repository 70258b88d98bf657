"""Every doctor API refuses control characters and broken surrogates in free text with a 422."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_apis_answer_422_to_control_characters(client: TestClient) -> None:
    for path, body in [
        ("/api/v1/medical/qa", {"question": "高血压\x00有哪些症状"}),
        ("/api/v1/kb/search", {"query": "\x1b[2J"}),
        ("/api/v1/kb/stores/notes/documents", {"documents": [{"id": "a", "title": "t", "text": "x\x07"}]}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 422, path
        assert response.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/kg/entities", params={"text": "头痛\x00"}).status_code == 422
    # A lone surrogate, as JSON can carry it, is refused too rather than failing deeper down.
    raw = b'{"question": "\\ud800 fever"}'
    response = client.post("/api/v1/medical/qa", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
