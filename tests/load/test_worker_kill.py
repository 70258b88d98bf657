"""A worker SIGKILLed under load: only the requests it held fail, and a replacement serves within 2 s."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import StartService
from tests.load.client import Connection, Recorder
from tests.load.conftest import Figures
from tests.load.profile import Profile

pytestmark = pytest.mark.timeout(300)


@pytest.mark.asyncio
async def test_a_killed_worker_costs_only_its_requests_and_is_replaced(
    start_service: StartService, profile: Profile, figures: Figures
) -> None:
    service = start_service(RATE_LIMIT_ENABLED="false", KEEPALIVE="30")
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    recorder = Recorder()
    duration = 6.0 if profile.name == "short" else 30.0

    async def client(stop_at: float) -> None:
        connection = Connection(host, port)
        while time.monotonic() < stop_at:
            await connection.get("/api/v1/test/slow?seconds=0.05", recorder)
        connection.close()

    stop_at = time.monotonic() + duration
    clients = [asyncio.create_task(client(stop_at)) for _ in range(profile.steady_clients)]
    await asyncio.sleep(duration / 3)
    before = set(service.worker_pids())
    victim = sorted(before)[0]
    recorder.marks["SIGKILL worker"] = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    ready_before = service.log().count('"msg":"worker ready"')
    replaced_after = None
    while time.monotonic() - killed_at < 10:
        # Replaced = a new pid among the workers and one more "worker ready" (its lifespan is done).
        if set(service.worker_pids()) - before and service.log().count('"msg":"worker ready"') > ready_before:
            replaced_after = time.monotonic() - killed_at
            break
        await asyncio.sleep(0.05)
    await asyncio.gather(*clients)

    failed = recorder.errors()
    late = [s for s in failed if s.started > killed_at + 0.5]
    figures.record(
        "worker SIGKILL", recorder, failed=len(failed), failed_after_half_a_second=len(late),
        replacement_seconds=None if replaced_after is None else round(replaced_after, 3),
        clients=profile.steady_clients,
    )  # fmt: skip
    # Each client holds one request at a time, and a quarter of them at most sat on the victim.
    assert len(failed) <= profile.steady_clients
    assert late == []
    assert replaced_after is not None
    # The bound is 2 s. A worker's boot is its imports (~1.5 s of CPU); on a 2-core machine
    # shared with other jobs the short profile has measured ~5 s, so it only checks a replacement
    # comes, and the full profile (`make load`, a machine of its own) holds the 2 s.
    assert replaced_after < (2.0 if profile.name == "full" else 15.0)
