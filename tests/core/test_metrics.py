"""/metrics sums every worker, keeps services apart and passes promtool."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from backend.devstack.processes import wait_http
from tests.conftest import StartService, require_tool, sum_samples


def _fresh_get(url: str) -> int:
    with httpx.Client(timeout=10) as client:
        return client.get(url).status_code


def test_metrics_count_every_request_whichever_worker_served_it(start_service: StartService) -> None:
    service = start_service()
    before = service.metric("medqa_http_requests_total", route="/healthz", status="200")
    with ThreadPoolExecutor(8) as pool:
        pids = set(pool.map(lambda _: httpx.get(f"{service.url}/healthz").json()["pid"], range(120)))
    assert len(pids) > 1, "requests should have been spread over several workers"

    text = httpx.get(f"{service.url}/metrics").text
    assert sum_samples(text, "medqa_http_requests_total", route="/healthz", status="200") == before + 120
    assert sum_samples(text, "medqa_http_request_duration_seconds_count", route="/healthz") == before + 120
    assert sum_samples(text, "medqa_redis_pool_max_connections") == 20
    assert 'service="testsvc"' in text


def test_unmatched_paths_share_one_label(start_service: StartService) -> None:
    service = start_service(WORKERS="1")
    for i in range(3):
        assert httpx.get(f"{service.url}/patient-name-{i}").status_code == 404
    text = httpx.get(f"{service.url}/metrics").text
    assert "patient-name" not in text
    assert sum_samples(text, "medqa_http_requests_total", route="<unmatched>", status="404") == 3


def test_two_services_on_one_machine_report_only_their_own(start_service: StartService) -> None:
    doctor = start_service("backend.doctor.app:app", WORKERS="2")
    patient = start_service("backend.patient.app:app", WORKERS="2")
    for _ in range(5):
        httpx.get(f"{doctor.url}/api/v1/ping")
    httpx.get(f"{patient.url}/api/v1/ping")

    doctor_text = httpx.get(f"{doctor.url}/metrics").text
    patient_text = httpx.get(f"{patient.url}/metrics").text
    assert 'service="patient"' not in doctor_text
    assert 'service="doctor"' not in patient_text
    assert sum_samples(doctor_text, "medqa_http_requests_total", route="/api/v1/ping") == 5
    assert sum_samples(patient_text, "medqa_http_requests_total", route="/api/v1/ping") == 1


def test_a_killed_worker_is_replaced_and_forgotten_by_live_gauges(start_service: StartService) -> None:
    service = start_service(WORKERS="2")
    victim = service.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = service.worker_pids()
        if victim not in pids and len(pids) == 2:
            break
        time.sleep(0.1)
    wait_http(f"{service.url}/readyz")
    for _ in range(10):
        assert httpx.get(f"{service.url}/healthz").status_code == 200
    # Live gauges sum live workers only: the in-progress gauge is this one /metrics request.
    assert service.metric("medqa_http_requests_in_progress") == 1
    assert service.metric("medqa_redis_pool_max_connections") == 20


def test_exposition_passes_promtool(start_service: StartService) -> None:
    promtool = require_tool("promtool")
    service = start_service(WORKERS="2")
    for path in ("/healthz", "/readyz", "/api/v1/ping", "/nope"):
        httpx.get(f"{service.url}{path}")
    text = httpx.get(f"{service.url}/metrics").text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
