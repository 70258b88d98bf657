"""One JSON line per request with its id, route, status and duration; never the patient's text."""

from __future__ import annotations

import json
import time

import httpx

from tests.conftest import StartService


def test_one_json_line_per_request_without_bodies_or_queries(start_service: StartService) -> None:
    service = start_service(WORKERS="1")
    secret = "王小明 身份证 110101199001011234 胸痛三天"
    httpx.post(f"{service.url}/api/v1/test/notes", json={"text": secret}, headers={"X-Request-ID": "req-42"})
    httpx.get(f"{service.url}/api/v1/test/slow", params={"seconds": "0", "q": secret})

    # The access line is written once the response has gone out: wait for it rather than race it.
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
        requests = [line for line in lines if line.get("msg") == "request"]
        routes = {line["route"] for line in requests}
        if {"/api/v1/test/notes", "/api/v1/test/slow"} <= routes or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    note = next(line for line in requests if line["request_id"] == "req-42")
    assert note["method"] == "POST"
    assert note["route"] == "/api/v1/test/notes"
    assert note["status"] == 200
    assert note["duration_ms"] >= 0
    assert any(line["route"] == "/api/v1/test/slow" for line in requests)
    assert "王小明" not in service.log()
    assert "110101199001011234" not in service.log()
    # gunicorn's own lines come through the same formatter
    assert any(line["logger"] == "gunicorn.error" for line in lines)
