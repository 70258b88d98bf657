"""backend/devstack/ui_server.py: the UI pages and the shared /common/ files carry the security headers,
API answers keep the service's own, the proxy streams server-sent events as they come, and says so when
the service is down."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from starlette.testclient import TestClient

from backend.core.config import PROJECT_ROOT
from backend.devstack.processes import free_port
from backend.devstack.ui_server import CONTENT_SECURITY_POLICY, UI_HEADERS, create_ui_app
from tests.frontend.conftest import Stack
from tests.support.fake_llm import FakeLLM

UI_FILES = ["/", "/index.html", "/js/main.js", "/js/strings.js", "/css/app.css", "/favicon.svg"]
# frontend/common, the same files for both UIs.
COMMON_FILES = [
    "/common/api.js",
    "/common/dom.js",
    "/common/i18n.js",
    "/common/messages.js",
    "/common/base.css",
]


def assert_ui_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, response.url
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("ui", ["doctor", "patient"])
def test_ui_pages_carry_a_strict_same_origin_policy(ui_stack: Stack, ui: str) -> None:
    base = ui_stack.doctor_ui if ui == "doctor" else ui_stack.patient_ui
    for path in UI_FILES + COMMON_FILES:
        response = httpx.get(f"{base}{path}", timeout=10)
        assert response.status_code == 200, path
        assert_ui_headers(response)
        if path.endswith(".js"):
            # Module scripts need it under nosniff.
            assert "javascript" in response.headers["content-type"]
        if path.endswith(".css"):
            assert response.headers["content-type"].startswith("text/css")
        if path.startswith("/common/"):
            shared = PROJECT_ROOT / "frontend" / "common" / path.removeprefix("/common/")
            assert response.content == shared.read_bytes()
    # /common/ holds files only: no page fallback, no listing.
    for path in ("/common/missing.js", "/common/"):
        assert httpx.get(f"{base}{path}", timeout=10).status_code == 404, path
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY

    # The API's answers pass through with the service's own (stricter) headers.
    ping = httpx.get(f"{base}/api/v1/ping", timeout=10)
    assert ping.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_the_proxy_streams_server_sent_events_as_they_come(ui_stack: Stack, llm: FakeLLM) -> None:
    llm.chunks = ["one ", "two ", "three ", "four [1]."]
    llm.chunk_delay = 0.3
    headers = ui_stack.admin_headers()
    arrivals: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{ui_stack.doctor_ui}/api/v1/medical/qa/stream",
        json={"question": "高血压吃什么药？"},
        headers=headers,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, chunk))
    body = b"".join(chunk for _, chunk in arrivals)
    assert b"event: done" in body
    first_delta = next(at for at, chunk in arrivals if b"event: delta" in chunk)
    done = next(at for at, chunk in arrivals if b"event: done" in chunk)
    # Buffered, everything would arrive at once at the end.
    assert done - first_delta > 0.6, arrivals


def test_the_proxy_answers_502_in_the_api_error_shape_when_the_service_is_down() -> None:
    app = create_ui_app("patient", f"http://127.0.0.1:{free_port()}")
    with TestClient(app) as client:
        response = client.post("/api/v1/sessions")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "unavailable"


def test_nginx_serves_the_uis_with_the_same_headers() -> None:
    """deploy/nginx/nginx.conf, in production, sets what ui_server sets in development."""
    conf = (PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    ui_locations = re.findall(r"^\s*location / \{(.*?)^\s*\}", conf, re.MULTILINE | re.DOTALL)
    assert len(ui_locations) == 2  # doctor and patient
    # Both servers serve frontend/common at /common/, as ui_server does, with the same headers.
    common_locations = re.findall(r"^\s*location /common/ \{(.*?)^\s*\}", conf, re.MULTILINE | re.DOTALL)
    assert len(common_locations) == 2
    for location in common_locations:
        assert re.search(r"^\s*root /usr/share/medqa/frontend;", location, re.MULTILINE)
        assert "try_files" not in location  # a missing file is a 404, not the UI page
    for location in ui_locations + common_locations:
        found = re.findall(r'add_header\s+(\S+)\s+"([^"]*)"\s+always;', location)
        # Cache-Control comes from `expires -1` there.
        expected = {name.decode(): value.decode() for name, value in UI_HEADERS if name != b"cache-control"}
        assert {name.lower(): value for name, value in found} == expected
        assert "expires -1;" in location
    # Server-sent events are relayed unbuffered.
    stream = re.search(r"location = /api/v1/medical/qa/stream \{(.*?)\}", conf, re.DOTALL)
    assert stream
    assert "proxy_buffering off;" in stream.group(1)
