"""Liveness never touches dependencies; readiness follows the service's Redis both ways."""

from __future__ import annotations

import time

import httpx

from backend.devstack.redis_server import LocalRedis
from tests.conftest import StartService


def _wait_status(url: str, status: int, timeout: float = 15) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=5)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readiness_flips_to_503_when_redis_stops_and_back_when_it_returns(
    start_service: StartService, private_redis: LocalRedis
) -> None:
    service = start_service(REDIS_URL=private_redis.url, WORKERS="2", READY_TIMEOUT="0.5")
    assert httpx.get(f"{service.url}/readyz").json()["checks"] == {"redis": "ok"}

    private_redis.stop()
    down = _wait_status(f"{service.url}/readyz", 503)
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/json"
    assert down.json()["error"]["code"] == "not_ready"
    assert down.json()["error"]["checks"]["redis"].startswith("failed")
    assert httpx.get(f"{service.url}/healthz").status_code == 200

    private_redis.start()
    up = _wait_status(f"{service.url}/readyz", 200)
    assert up.status_code == 200
    assert up.json()["status"] == "ready"
