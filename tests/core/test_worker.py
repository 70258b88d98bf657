"""MAX_CONNECTIONS bounds each worker: load beyond it is shed with a JSON 503, never queued."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import StartService


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
