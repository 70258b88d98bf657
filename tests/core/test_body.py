"""json_body answers every request body exactly as a FastAPI body parameter of the same model does."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from backend.core.body import json_body
from backend.core.errors import install_error_handlers
from backend.core.knowledge.qa.schemas import QARequest

JSON = "application/json"
CASES = [
    (b'{"question": "abc"}', JSON),
    (b'{"question": "  abc  ", "top_k": 3}', JSON),
    (b'{"question": "abc", "top_k": 3.0}', JSON),
    (b'{"question": "abc", "top_k": true}', JSON),
    (b'{"question": "abc", "top_k": "3"}', JSON),
    (b'{"question": "abc", "top_k": 1e1}', JSON),
    (b'{"question": "abc", "top_k": 0}', JSON),
    (b'{"question": "abc", "extra": 1}', JSON),
    (b'{"question": ""}', JSON),
    (b'{"question": "a\\u0000b"}', JSON),
    (b'{"question": "a\\ud800b"}', JSON),
    (b'{"question": "abc", "stores": ["x y"]}', JSON),
    (b'{"question": "abc", "stores": ["medical"]}', JSON),
    (b'{"question": "abc", "stores": null, "top_k": null}', JSON),
    (b'{"question": "abc", "question": "def"}', JSON),
    ('{"question": "高血压有哪些症状？"}'.encode(), JSON),
    (b'{"question": "' + b"a" * 600 + b'"}', JSON),
    (b'{"question": 5}', JSON),
    (b"[1, 2]", JSON),
    (b'"abc"', JSON),
    (b"null", JSON),
    (b'{"question": NaN}', JSON),
    (b'{"question": "abc"', JSON),
    (b'{"question": "x"} trailing', JSON),
    (b'\xef\xbb\xbf{"question": "abc"}', JSON),
    (b"", JSON),
    (b'{"question": "abc"}', None),
    (b'{"question": "abc"}', "text/plain"),
    (b'{"question": "abc"}', "application/json; charset=utf-8"),
    (b'{"question": "abc"}', "application/vnd.api+json"),
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/parameter")
    async def parameter(body: QARequest) -> dict[str, object]:
        return body.model_dump()

    @app.post("/json-body")
    async def read(request: Request) -> dict[str, object]:
        return (await json_body(request, QARequest)).model_dump()

    return TestClient(app)


@pytest.mark.parametrize(("body", "content_type"), CASES)
def test_json_body_answers_as_a_body_parameter(
    client: TestClient, body: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    expected = client.post("/parameter", content=body, headers=headers)
    got = client.post("/json-body", content=body, headers=headers)
    assert got.status_code == expected.status_code
    assert _without_request_id(got.json()) == _without_request_id(expected.json())


def _without_request_id(body: object) -> object:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {**body, "error": {k: v for k, v in body["error"].items() if k != "request_id"}}
    return body
