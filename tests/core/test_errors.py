"""Every error has one JSON shape with a code, a message and the request id; no stack trace leaks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.slow_app import app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def test_not_found(client: TestClient) -> None:
    _assert_error(client.get("/no/such/route"), 404, "not_found")


def test_method_not_allowed(client: TestClient) -> None:
    _assert_error(client.delete("/healthz"), 405, "method_not_allowed")


def test_validation_error_names_the_field_but_never_echoes_the_input(client: TestClient) -> None:
    response = client.post("/api/v1/test/notes", json={"text": "张三 胸痛" * 50})
    error = _assert_error(response, 422, "validation_error")
    assert "张三" not in response.text
    assert error["details"][0]["loc"] == ["body", "text"]


def test_unknown_fields_are_rejected(client: TestClient) -> None:
    error = _assert_error(
        client.post("/api/v1/test/notes", json={"text": "ok", "admin": True}), 422, "validation_error"
    )
    assert any(d["type"] == "extra_forbidden" for d in error["details"])


def test_malformed_json_is_a_422_not_a_crash(client: TestClient) -> None:
    response = client.post(
        "/api/v1/test/notes", content=b'{"text": ', headers={"content-type": "application/json"}
    )
    _assert_error(response, 422, "validation_error")


def test_body_over_the_limit_is_413_declared_or_streamed(client: TestClient) -> None:
    too_big = b'{"text": "' + b"a" * 1_100_000 + b'"}'
    _assert_error(client.post("/api/v1/test/notes", content=too_big), 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(20):
            yield b"a" * 100_000

    _assert_error(client.post("/api/v1/test/notes", content=chunks()), 413, "payload_too_large")


def test_unhandled_error_is_a_500_without_a_stack_trace(client: TestClient) -> None:
    response = client.get("/api/v1/test/boom")
    _assert_error(response, 500, "internal_error")
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


def test_request_id_is_taken_from_the_request_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"})
    assert given.headers["x-request-id"] == "lb-1234.abc"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert forged.headers["x-request-id"] != "bad id\nwith newline"
    assert len(forged.headers["x-request-id"]) == 32


def test_cors_allows_only_the_configured_ui_origins(client: TestClient) -> None:
    allowed = client.options(
        "/api/v1/ping",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = client.options(
        "/api/v1/ping",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in refused.headers
