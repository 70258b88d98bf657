"""nginx in front of the services for the load suite: deploy/nginx/nginx.conf as the deployment tests
render it (loopback ports, this test's /tmp paths, upstream servers -> the test's instances)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.core.config import PROJECT_ROOT
from backend.devstack.processes import free_port
from tests.conftest import require_tool
from tests.deploy.conftest import wait_for_port
from tests.deploy.test_nginx_conf import (
    DOCTOR_UI_PORT,
    NGINX_CONF,
    PATIENT_UI_PORT,
    conf_text,
    global_args,
    proxied_upstream,
    render,
)


@dataclass
class Edge:
    doctor_port: int
    patient_port: int
    process: subprocess.Popen[bytes]
    access_log: Path
    error_log: Path

    def access(self) -> list[dict[str, Any]]:
        """nginx's access log: one JSON object per request (deploy/nginx/nginx.conf's medqa_json)."""
        lines = self.access_log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@contextmanager
def nginx_in_front(prefix: Path, doctor_ports: Sequence[int], patient_ports: Sequence[int]) -> Iterator[Edge]:
    """nginx running the deployed config over these instances; stopped on the way out."""
    binary = require_tool("nginx")
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "logs").mkdir()
    text = conf_text()
    listen = {DOCTOR_UI_PORT: free_port(), PATIENT_UI_PORT: free_port()}
    backends = {
        proxied_upstream(text, DOCTOR_UI_PORT): doctor_ports,
        proxied_upstream(text, PATIENT_UI_PORT): patient_ports,
    }
    conf = prefix / "nginx.conf"
    conf.write_text(
        render(text, prefix=prefix, frontend=PROJECT_ROOT / "frontend", listen=listen, backends=backends),
        encoding="utf-8",
    )
    assert NGINX_CONF.exists()
    access_log, error_log = prefix / "access.log", prefix / "error.log"
    with access_log.open("wb") as out, error_log.open("wb") as err:
        process = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf), *global_args("daemon off;")],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        for port in listen.values():
            wait_for_port(port, timeout=10, process=process)
        yield Edge(listen[DOCTOR_UI_PORT], listen[PATIENT_UI_PORT], process, access_log, error_log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
