"""Sign-in under the real gunicorn master: a token works in every worker, and so does its revocation."""

from __future__ import annotations

import time

import httpx

from tests.conftest import StartService
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers


def _statuses(url: str, headers: dict[str, str], times: int = 16) -> set[int]:
    statuses = set()
    for _ in range(times):
        with httpx.Client() as client:  # a new connection per request spreads them over workers
            statuses.add(client.get(f"{url}/api/v1/auth/me", headers=headers).status_code)
    return statuses


def test_a_logout_reaches_every_worker_within_the_check_cache_time(start_service: StartService) -> None:
    service = start_service("backend.doctor.app:app", RATE_LIMIT_DEFAULT="100000/minute", **TEST_AUTH_ENV)
    headers = service_admin_headers(service.url)
    assert _statuses(service.url, headers) == {200}

    assert httpx.post(f"{service.url}/api/v1/auth/logout", headers=headers).status_code == 204
    time.sleep(1.2)  # AUTH_CACHE_SECONDS (1 s): how long another worker may trust its last check
    assert _statuses(service.url, headers) == {401}
