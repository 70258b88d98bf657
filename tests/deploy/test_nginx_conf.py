"""deploy/nginx/nginx.conf: the real nginx checks it (nginx -t), then runs it on loopback ports in
front of stub backends to show the UI is served, /api/ is proxied with the forwarding headers,
bodies over 1 MiB are refused, and failing instances are skipped (passive health checks).

The config is used as written except for what cannot work here: listen ports (-> free loopback
ports), upstream host names (-> 127.0.0.1 stubs, keeping each server's parameters), /tmp paths
and the UI root (-> the test's tmp dir).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import (
    DEPLOY_DIR,
    LOOPBACK,
    ManagedProcess,
    StubBackend,
    run_tool,
    wait_for_port,
)

NGINX_CONF = DEPLOY_DIR / "nginx" / "nginx.conf"
UI_ROOT = "/usr/share/medqa/frontend"
DOCTOR_UI_PORT = 3000
PATIENT_UI_PORT = 3001
ONE_MIB = 1024 * 1024

UPSTREAM_BLOCK = re.compile(r"^\s*upstream\s+(?P<name>[\w-]+)\s*\{(?P<body>[^}]*)\}", re.MULTILINE)
SERVER_LINE = re.compile(
    r"^(?P<indent>[ \t]*)server\s+(?P<host>[A-Za-z0-9.-]+):(?P<port>\d+)(?P<params>[^;]*);", re.MULTILINE
)
LISTEN = re.compile(r"\blisten\s+(?P<port>\d+)\b")


@dataclass(frozen=True)
class UpstreamServer:
    host: str
    port: int
    params: str  # e.g. " max_fails=3 fail_timeout=10s"

    def param(self, name: str) -> str | None:
        match = re.search(rf"\b{name}=(\S+)", self.params)
        return match.group(1) if match else None


def conf_text() -> str:
    return NGINX_CONF.read_text(encoding="utf-8")


def without_comments(text: str) -> str:
    return re.sub(r"(?m)^\s*#.*$|\s+#[^'\"\n]*$", "", text)


def upstreams(text: str) -> dict[str, list[UpstreamServer]]:
    found: dict[str, list[UpstreamServer]] = {}
    for block in UPSTREAM_BLOCK.finditer(text):
        found[block["name"]] = [
            UpstreamServer(m["host"], int(m["port"]), m["params"])
            for m in SERVER_LINE.finditer(block["body"])
        ]
    return found


def proxied_upstream(text: str, ui_port: int) -> str:
    """The upstream that the server listening on ui_port proxies /api/ to."""
    for server in re.split(r"^\s*server\s*\{", text, flags=re.MULTILINE)[1:]:
        if re.search(rf"\blisten\s+{ui_port}\b", server):
            location = re.search(r"location\s+/api/\s*\{[^}]*proxy_pass\s+http://([\w-]+)\s*;", server)
            assert location, f"the server on {ui_port} has no 'location /api/' with proxy_pass"
            return location.group(1)
    raise AssertionError(f"no server listens on {ui_port}")


def render(
    text: str,
    *,
    prefix: Path,
    frontend: Path,
    listen: Mapping[int, int] | None = None,
    backends: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """The config with paths, and optionally ports and upstream servers, moved to this test."""
    text = text.replace("/tmp/", f"{prefix}/tmp/").replace(UI_ROOT, str(frontend))
    if listen is not None:
        text = LISTEN.sub(lambda m: f"listen {LOOPBACK}:{listen[int(m['port'])]}", text)

    def rewrite_block(block: re.Match[str]) -> str:
        name, body = block["name"], block["body"]
        servers = list(SERVER_LINE.finditer(body))
        if backends is not None and name in backends:
            first = servers[0]
            lines = "\n".join(
                f"{first['indent']}server {LOOPBACK}:{port}{first['params']};" for port in backends[name]
            )
            body = body[: first.start()] + lines + body[servers[-1].end() :]
        else:
            body = SERVER_LINE.sub(
                lambda m: f"{m['indent']}server {LOOPBACK}:{m['port']}{m['params']};", body
            )
        return block.group(0).replace(block["body"], body)

    return UPSTREAM_BLOCK.sub(rewrite_block, text)


def global_args(*extra: str) -> list[str]:
    directives = list(extra)
    if os.geteuid() == 0:
        # As root nginx's workers would switch to "nobody", who cannot read pytest's tmp dir.
        directives.append("user root;")
    return ["-g", " ".join(directives)] if directives else []


def request(
    port: int,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        connection.close()


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def frontend(tmp_path: Path) -> Path:
    root = tmp_path / "frontend"
    for service in ("doctor", "patient"):
        ui = root / service
        ui.mkdir(parents=True)
        padding = "<!-- " + "medqa " * 400 + "-->"  # > gzip_min_length
        (ui / "index.html").write_text(
            f"<!doctype html><html><head><title>MedQA {service}</title></head>"
            f"<body><h1>MedQA {service}</h1>{padding}</body></html>\n",
            encoding="utf-8",
        )
        (ui / "app.js").write_text(f"console.log('{service}');\n", encoding="utf-8")
    return root


@pytest.fixture
def nginx_prefix(tmp_path: Path) -> Path:
    prefix = tmp_path / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "logs").mkdir()
    return prefix


@dataclass
class RunningNginx:
    process: ManagedProcess
    doctor_port: int
    patient_port: int


@pytest.fixture
def launch_nginx(
    nginx_bin: str,
    nginx_prefix: Path,
    frontend: Path,
    free_port: Callable[[], int],
    start_process: Callable[..., ManagedProcess],
) -> Iterator[Callable[[Sequence[int], Sequence[int]], RunningNginx]]:
    """launch(doctor_backend_ports, patient_backend_ports) -> nginx running the real config."""
    text = conf_text()
    doctor_upstream = proxied_upstream(text, DOCTOR_UI_PORT)
    patient_upstream = proxied_upstream(text, PATIENT_UI_PORT)
    running: list[RunningNginx] = []

    def launch(doctor_ports: Sequence[int], patient_ports: Sequence[int]) -> RunningNginx:
        ports = {DOCTOR_UI_PORT: free_port(), PATIENT_UI_PORT: free_port()}
        conf = nginx_prefix / "nginx.conf"
        conf.write_text(
            render(
                text,
                prefix=nginx_prefix,
                frontend=frontend,
                listen=ports,
                backends={doctor_upstream: doctor_ports, patient_upstream: patient_ports},
            ),
            encoding="utf-8",
        )
        args = [nginx_bin, "-p", str(nginx_prefix), "-c", str(conf), *global_args("daemon off;")]
        process = start_process("nginx", args)
        for port in ports.values():
            wait_for_port(port, timeout=10, process=process.popen)
        instance = RunningNginx(process, ports[DOCTOR_UI_PORT], ports[PATIENT_UI_PORT])
        running.append(instance)
        return instance

    yield launch
    for instance in running:
        instance.process.stop()


# --- static checks ---------------------------------------------------------------------------------


def test_config_passes_nginx_t(nginx_bin: str, nginx_prefix: Path, frontend: Path) -> None:
    conf = nginx_prefix / "nginx.conf"
    conf.write_text(render(conf_text(), prefix=nginx_prefix, frontend=frontend), encoding="utf-8")
    result = run_tool([nginx_bin, "-t", "-p", str(nginx_prefix), "-c", str(conf), *global_args()], timeout=30)
    assert result.returncode == 0, f"nginx -t failed:\n{result.stderr}"
    assert "test is successful" in result.stderr


def test_upstreams_have_passive_health_checks_and_keepalive() -> None:
    text = conf_text()
    found = upstreams(text)
    assert proxied_upstream(text, DOCTOR_UI_PORT) in found
    assert proxied_upstream(text, PATIENT_UI_PORT) in found
    for name, servers in found.items():
        assert servers, f"upstream {name} has no server"
        for server in servers:
            assert server.param("max_fails"), f"{name}: {server} lacks max_fails"
            assert server.param("fail_timeout"), f"{name}: {server} lacks fail_timeout"
        block = next(b["body"] for b in UPSTREAM_BLOCK.finditer(text) if b["name"] == name)
        assert re.search(r"^\s*keepalive\s+\d+;", block, re.MULTILINE), f"{name}: no keepalive pool"
        assert re.search(r"^\s*zone\s+\S+\s+\S+;", block, re.MULTILINE), f"{name}: failures not shared (zone)"
    # Keep-alive to upstreams needs HTTP/1.1 and no "Connection: close".
    assert re.search(r"proxy_http_version\s+1\.1;", text)
    assert re.search(r'proxy_set_header\s+Connection\s+"";', text)


# POSTs that change nothing: nginx may send them again to another instance (non_idempotent).
SAFE_POSTS = {"/api/v1/medical/qa", "/api/v1/medical/qa/batch"}


def test_retries_only_idempotent_requests_on_error_timeout_502_503() -> None:
    text = without_comments(conf_text())
    directive = re.search(r"^\s*proxy_next_upstream\s+([^;]+);", text, re.MULTILINE)
    assert directive, "proxy_next_upstream is not set"
    assert set(directive.group(1).split()) == {"error", "timeout", "http_502", "http_503"}
    # non_idempotent only inside the exact locations of the question-answering POSTs.
    retried_posts = re.findall(
        r"location\s*=\s*(\S+)\s*\{[^}]*proxy_next_upstream\s+([^;]+\bnon_idempotent\b[^;]*);", text
    )
    assert {path for path, _ in retried_posts} == SAFE_POSTS
    for _, values in retried_posts:
        assert set(values.split()) == {"error", "timeout", "http_502", "http_503", "non_idempotent"}
    assert text.count("non_idempotent") == len(SAFE_POSTS)


def test_limits_headers_and_hardening() -> None:
    text = conf_text()
    assert re.search(r"^\s*client_max_body_size\s+1m;", text, re.MULTILINE)
    assert re.search(r"^\s*server_tokens\s+off;", text, re.MULTILINE)
    assert re.search(r"^\s*gzip\s+on;", text, re.MULTILINE)
    for header, value in (
        ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        ("X-Real-IP", "$remote_addr"),
        ("X-Request-ID", "$medqa_request_id"),
    ):
        assert re.search(rf"proxy_set_header\s+{header}\s+{re.escape(value)};", text), header
    timeouts = ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "client_body_timeout")
    for timeout in timeouts:
        assert re.search(rf"^\s*{timeout}\s+\d+s;", text, re.MULTILINE), timeout
    # The image runs nginx as a non-root user: no "user" directive, writable paths under /tmp.
    assert not re.search(r"^\s*user\s", text, re.MULTILINE)
    assert re.search(r"^pid\s+/tmp/", text, re.MULTILINE)


def test_access_log_is_json_without_query_strings_or_bodies() -> None:
    text = conf_text()
    log_format = re.search(r"log_format\s+(\w+)\s+escape=json(.*?);\n", text, re.DOTALL)
    assert log_format, "no log_format with escape=json"
    name, body = log_format.group(1), log_format.group(2)
    assert re.search(rf"^\s*access_log\s+\S+\s+{name};", text, re.MULTILINE)
    for variable in (
        "$request ",
        '$request"',
        "$request_uri",
        "$args",
        "$query_string",
        "$arg_",
        "$request_body",
        "$http_referer",
        "$is_args",
    ):
        assert variable not in body, f"the access log must not contain {variable.strip()}"
    assert "$uri" in body


# --- nginx running in front of stub backends -------------------------------------------------------


def test_serves_each_ui_with_spa_fallback_and_gzip(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    nginx = launch_nginx([stub_backend("doctor").port], [stub_backend("patient").port])

    status, headers, body = request(nginx.doctor_port, "GET", "/")
    assert status == 200
    assert b"MedQA doctor" in body
    assert headers["x-content-type-options"] == "nosniff"
    assert headers.get("server") == "nginx", "server_tokens off: no version in Server"

    status, _, body = request(nginx.patient_port, "GET", "/")
    assert (status, b"MedQA patient" in body) == (200, True)

    status, _, body = request(nginx.doctor_port, "GET", "/consultations/42")  # client-side route
    assert (status, b"MedQA doctor" in body) == (200, True)

    status, headers, _ = request(nginx.doctor_port, "GET", "/app.js")
    assert status == 200
    assert "javascript" in headers["content-type"]

    status, headers, _ = request(nginx.doctor_port, "GET", "/", headers={"Accept-Encoding": "gzip"})
    assert (status, headers.get("content-encoding")) == (200, "gzip")

    status, _, body = request(nginx.doctor_port, "GET", "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_api_is_proxied_with_forwarding_headers(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    doctor, patient = stub_backend("doctor"), stub_backend("patient")
    nginx = launch_nginx([doctor.port], [patient.port])

    status, _, body = request(
        nginx.doctor_port,
        "GET",
        "/api/v1/questions?text=chest-pain-private",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "req-123.abc"},
    )
    assert status == 200
    assert json.loads(body)["instance"] == "doctor"
    [seen] = doctor.seen()
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert seen.path == "/api/v1/questions?text=chest-pain-private"  # the API gets the query
    assert headers["x-forwarded-for"] == f"203.0.113.9, {LOOPBACK}"
    assert headers["x-real-ip"] == LOOPBACK
    assert headers["x-request-id"] == "req-123.abc"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"].startswith(LOOPBACK)
    assert headers.get("connection", "").lower() != "close", "upstream keep-alive is off"

    # No or a malformed X-Request-ID: nginx mints its own (32 hex digits).
    request(nginx.doctor_port, "GET", "/api/v1/ping")
    request(nginx.doctor_port, "GET", "/api/v1/ping", headers={"X-Request-ID": "x" * 200})
    minted = [{k.lower(): v for k, v in r.headers.items()}["x-request-id"] for r in doctor.seen()[1:]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in minted), minted

    # Port 3001 goes to the patient service only.
    status, _, body = request(
        nginx.patient_port,
        "POST",
        "/api/v1/triage",
        body=b'{"q": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert (status, json.loads(body)["instance"]) == (200, "patient")
    assert [r.path for r in patient.seen()] == ["/api/v1/triage"]
    assert len(doctor.seen()) == 3

    # Only the API is proxied: the services' own /metrics and /readyz are not reachable.
    request(nginx.doctor_port, "GET", "/metrics")
    assert len(doctor.seen()) == 3

    # The access log: JSON lines, the path without its query string.
    nginx.process.stop()
    lines = [json.loads(line) for line in nginx.process.stdout().splitlines() if line.strip()]
    api_lines = [line for line in lines if line["path"] == "/api/v1/questions"]
    assert api_lines
    assert api_lines[0]["status"] == 200
    assert api_lines[0]["request_id"] == "req-123.abc"
    assert "chest-pain-private" not in nginx.process.stdout()


def test_request_bodies_over_one_mib_are_refused_at_the_edge(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    doctor = stub_backend("doctor")
    nginx = launch_nginx([doctor.port], [stub_backend("patient").port])
    headers = {"Content-Type": "application/octet-stream"}

    status, _, _ = request(nginx.doctor_port, "POST", "/api/v1/upload", headers=headers, body=b"a" * ONE_MIB)
    assert status == 200
    assert [r.body_length for r in doctor.seen()] == [ONE_MIB]

    too_big = b"a" * (ONE_MIB + 1)
    status, _, _ = request(nginx.doctor_port, "POST", "/api/v1/upload", headers=headers, body=too_big)
    assert status == 413
    assert len(doctor.seen()) == 1, "the oversized body must not reach the API"


def test_dead_instance_is_skipped(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
    free_port: Callable[[], int],
) -> None:
    live = stub_backend("doctor-live")
    dead_port = free_port()  # nothing listens there: connection refused
    nginx = launch_nginx([dead_port, live.port], [stub_backend("patient").port])

    for method in ("GET", "POST"):  # refused before anything was sent: POST may move on too
        for _ in range(6):
            status, _, body = request(nginx.doctor_port, method, "/api/v1/ping")
            assert status == 200
            assert json.loads(body)["instance"] == "doctor-live"
    assert len(live.seen()) == 12
    assert "connect() failed" in nginx.process.stderr()


def test_failing_instance_is_retried_around_and_taken_out_of_rotation(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    max_fails = int(next(iter(upstreams(conf_text()).values()))[0].param("max_fails") or 1)
    draining = stub_backend("doctor-draining", status=503)
    live = stub_backend("doctor-live")
    nginx = launch_nginx([draining.port, live.port], [stub_backend("patient").port])

    answered = []
    for _ in range(20):
        request_id = uuid.uuid4().hex
        headers = {"X-Request-ID": request_id}
        status, _, body = request(nginx.doctor_port, "GET", "/api/v1/ping", headers=headers)
        answered.append((status, json.loads(body)["instance"]))
    assert answered == [(200, "doctor-live")] * 20, "a GET answered 503 must be retried elsewhere"
    # After max_fails failures within fail_timeout the instance gets no more requests.
    assert 1 <= len(draining.seen()) <= max_fails


def test_non_idempotent_request_is_not_retried_after_a_503(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    draining = stub_backend("doctor-draining", status=503)
    live = stub_backend("doctor-live")
    nginx = launch_nginx([draining.port, live.port], [stub_backend("patient").port])

    outcomes: dict[str, int] = {}
    for _ in range(6):
        request_id = uuid.uuid4().hex
        status, _, _ = request(
            nginx.doctor_port, "POST", "/api/v1/qa", headers={"X-Request-ID": request_id}, body=b"{}"
        )
        outcomes[request_id] = status
        if draining.seen():
            break

    def ids(stub: StubBackend) -> set[str]:
        return {{k.lower(): v for k, v in r.headers.items()}["x-request-id"] for r in stub.seen()}

    sent_to_draining = ids(draining)
    assert len(sent_to_draining) == 1, "round-robin never reached the failing instance"
    [request_id] = sent_to_draining
    assert outcomes[request_id] == 503, "a POST already sent must not be replayed on another instance"
    assert request_id not in ids(live)


def test_a_question_answered_503_by_a_draining_instance_is_asked_again_elsewhere(
    launch_nginx: Callable[[Sequence[int], Sequence[int]], RunningNginx],
    stub_backend: Callable[..., StubBackend],
) -> None:
    draining = stub_backend("doctor-draining", status=503)
    live = stub_backend("doctor-live")
    nginx = launch_nginx([draining.port, live.port], [stub_backend("patient").port])

    for path in sorted(SAFE_POSTS):
        for _ in range(6):
            status, _, body = request(nginx.doctor_port, "POST", path, body=b"{}")
            assert (status, json.loads(body)["instance"]) == (200, "doctor-live"), path
    assert draining.seen(), "round-robin never reached the failing instance"
