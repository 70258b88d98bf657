"""The README's run command: both services, both UIs, a Redis when none answers; Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.core.config import PROJECT_ROOT
from backend.devstack.postgres_server import postgres_answers
from backend.devstack.processes import free_port
from backend.devstack.redis_server import redis_answers


def test_run_command_brings_up_the_stack_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    ports = {
        name: free_port() for name in ("DOCTOR_PORT", "PATIENT_PORT", "DOCTOR_UI_PORT", "PATIENT_UI_PORT")
    }
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing answers here: the command starts it
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},  # unset: it starts PostgreSQL
        **{k: str(v) for k, v in ports.items()},
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path / "data"),
        "WORKERS": "2",
    }
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.devstack.run"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 90
        while "ready; Ctrl-C stops everything" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        output = log_path.read_text()
        assert f"no Redis answered at {redis_url}" in output
        database_url = re.search(r"no DATABASE_URL: started PostgreSQL at (\S+),", output).group(1)  # type: ignore[union-attr]

        doctor_ui = f"http://127.0.0.1:{ports['DOCTOR_UI_PORT']}"
        patient_ui = f"http://127.0.0.1:{ports['PATIENT_UI_PORT']}"
        assert "医生工作站" in httpx.get(f"{doctor_ui}/").text
        assert "患者服务" in httpx.get(f"{patient_ui}/").text
        # The UIs reach their own service through the same-origin /api proxy; the doctor's needs the
        # development admin the run command made and printed.
        assert httpx.get(f"{doctor_ui}/api/v1/ping").status_code == 401
        password = re.search(r"doctor sign-in for development: admin / (\S+)", output).group(1)  # type: ignore[union-attr]
        signed_in = httpx.post(
            f"{doctor_ui}/api/v1/auth/token", data={"username": "admin", "password": password}
        )
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        assert httpx.get(f"{doctor_ui}/api/v1/ping", headers=headers).json() == {"pong": "doctor"}
        assert httpx.get(f"{patient_ui}/api/v1/ping").json() == {"pong": "patient"}
        assert httpx.get(f"http://127.0.0.1:{ports['DOCTOR_PORT']}/readyz").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)

    assert code == 0, log_path.read_text()
    assert not redis_answers(redis_url)
    assert not postgres_answers(database_url)
    assert (tmp_path / "data" / "postgres" / "data" / "PG_VERSION").exists(), "the cluster lives in DATA_DIR"
    for port in ports.values():
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except httpx.ConnectError:
            pass
    assert list((tmp_path / "data" / "redis").glob("appendonly*")), "the local Redis persists with AOF"
