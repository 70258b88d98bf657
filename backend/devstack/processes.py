"""Child processes the run command, the tests and the benchmarks start: free ports, readiness, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from backend.core.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 30.0, status: int = 200) -> None:
    """Poll url until it answers `status`; raise TimeoutError with the last outcome otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last!r})")


def start_gunicorn(
    app: str,
    port: int,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    host: str = "127.0.0.1",
) -> subprocess.Popen[bytes]:
    """The production start command, `gunicorn -c gunicorn.conf.py APP`, bound to host:port."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        app,
        "--bind",
        f"{host}:{port}",
    ]
    output = open(log_path, "ab") if log_path else None  # noqa: SIM115 (the child owns it)
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 40.0) -> int:
    """Signal a child and wait for it; kill it if it outlives the timeout. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
