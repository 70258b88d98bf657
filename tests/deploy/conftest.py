"""Shared helpers of the deployment tests: paths, free loopback ports, child processes, a stub
HTTP backend, and the external tools (nginx, promtool) that CI installs from Debian.

Everything here talks to 127.0.0.1 only and cleans up after itself.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backend.devstack.processes import free_port as get_free_port
from tests.conftest import require_tool

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = PROJECT_ROOT / "deploy"

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_SECONDS = 5.0


# --- paths ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    return DEPLOY_DIR


# --- external tools: skipped on a developer machine without them, a failure in CI -----------------


@pytest.fixture(scope="session")
def nginx_bin() -> str:
    return require_tool("nginx")


@pytest.fixture(scope="session")
def promtool_bin() -> str:
    return require_tool("promtool")


def run_tool(
    args: Sequence[str], *, cwd: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion with a bound on its time; output captured as text."""
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


# --- ports ---------------------------------------------------------------------------------------


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for each port needed; ports handed out in one test are distinct."""
    given: set[int] = set()

    def pick() -> int:
        for _ in range(50):
            port = get_free_port()
            if port not in given:
                given.add(port)
                return port
        raise RuntimeError("no free loopback port found")

    return pick


def wait_for_port(
    port: int, *, timeout: float = 10.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


# --- child processes -------------------------------------------------------------------------------


@dataclass
class ManagedProcess:
    """A child process whose stdout and stderr go to files, stopped for sure at teardown."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        return self.popen.returncode


@pytest.fixture
def start_process(tmp_path: Path) -> Iterator[Callable[..., ManagedProcess]]:
    """Start a command in the background: start_process(name, args, env=None, cwd=None).

    Its output lands in tmp_path/<name>.stdout|.stderr. Every process started through this
    fixture is stopped (SIGTERM, then SIGKILL) when the test ends, whatever happened.
    """
    started: list[ManagedProcess] = []

    def start(
        name: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        stdout_path = tmp_path / f"{name}.stdout"
        stderr_path = tmp_path / f"{name}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(env) if env is not None else None,
                cwd=cwd,
            )
        process = ManagedProcess(name, popen, stdout_path, stderr_path)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


# --- a stub HTTP backend --------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body_length: int


@dataclass
class StubBackend:
    """A tiny HTTP/1.1 server on 127.0.0.1 standing in for an API instance.

    Every request is recorded; the answer is `status` with a JSON body naming the instance and
    echoing the request's path and headers.
    """

    name: str
    status: int = 200
    statuses: dict[str, int] = field(default_factory=dict)  # path (without query) -> status
    requests: list[RecordedRequest] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> StubBackend:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream keepalive expects
            timeout = 10

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                recorded = RecordedRequest(self.command, self.path, dict(self.headers.items()), length)
                with stub._lock:
                    stub.requests.append(recorded)
                status = stub.statuses.get(self.path.split("?", 1)[0], stub.status)
                body = json.dumps(
                    {"instance": stub.name, "path": self.path, "headers": recorded.headers}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer
            do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"stub-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            self._thread = None

    def seen(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)


@pytest.fixture
def stub_backend() -> Iterator[Callable[..., StubBackend]]:
    """Start stub backends: stub_backend("doctor-a", status=200, statuses={"/readyz": 503})."""
    started: list[StubBackend] = []

    def start(name: str, status: int = 200, statuses: Mapping[str, int] | None = None) -> StubBackend:
        stub = StubBackend(name=name, status=status, statuses=dict(statuses or {})).start()
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()
