"""MAX_CONNECTIONS bounds each worker: load beyond it is shed with a JSON 503, never queued. A worker
recycled by MAX_REQUESTS hands over to a replacement that already serves."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import Service, StartService


def test_load_over_max_connections_is_shed_with_503_and_retry_after(start_service: StartService) -> None:
    service = start_service(WORKERS="1", MAX_CONNECTIONS="3")
    with ThreadPoolExecutor(10) as pool:
        responses = list(
            pool.map(
                lambda _: httpx.get(f"{service.url}/api/v1/test/slow?seconds=1.5", timeout=10), range(10)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) <= 3
    assert statuses.count(503) >= 7
    shed = next(r for r in responses if r.status_code == 503)
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "overloaded"
    assert service.metric("medqa_http_requests_shed_total") >= 7
    # The worker is fine afterwards.
    assert httpx.get(f"{service.url}/healthz").status_code == 200


def test_a_worker_recycled_by_max_requests_stops_only_once_its_replacement_serves(
    start_service: StartService,
) -> None:
    service = start_service(
        WORKERS="2", MAX_REQUESTS="30", MAX_REQUESTS_JITTER="0", RATE_LIMIT_ENABLED="false"
    )
    statuses = [httpx.get(f"{service.url}/healthz", timeout=10).status_code for _ in range(150)]
    assert set(statuses) == {200}

    deadline = time.monotonic() + 20
    events = _events(service)
    while time.monotonic() < deadline:
        events = _events(service)
        retiring = {pid for pid, msg in events if "handing over" in msg}
        stopped = {pid for pid, msg in events if msg == "worker stopped"}
        if len(retiring) >= 3 and retiring <= stopped and len(service.worker_pids()) == 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"recycling did not settle at 2 workers:\n{service.log()[-3000:]}")
    for pid in retiring:
        asked = events.index((pid, next(m for p, m in events if p == pid and "handing over" in m)))
        shut = events.index((pid, "Shutting down"))
        # Some worker started after this one asked, and was serving before this one stopped.
        assert any(msg == "worker ready" and other != pid for other, msg in events[asked:shut]), pid
    (handover,) = (Path(service.env["DATA_DIR"]) / "run" / "handover").glob(f"*-{service.process.pid}")
    assert list(handover.iterdir()) == []


def _events(service: Service) -> list[tuple[int, str]]:
    lines = service.log().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [(entry["pid"], entry["msg"]) for entry in entries]
