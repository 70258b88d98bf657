"""More concurrent requests than an instance admits: fast JSON 503s with Retry-After, then recovery."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import StartService
from tests.load.client import Connection, Recorder, Reply
from tests.load.conftest import Figures
from tests.load.profile import Profile

pytestmark = pytest.mark.timeout(120)

WORKERS = 2
MAX_IN_FLIGHT = 4  # per worker
MAX_CONNECTIONS = 16  # per worker
WORK_SECONDS = 0.5  # what an admitted request costs


@pytest.mark.asyncio
async def test_overload_gets_fast_json_503s_and_recovers_when_load_drops(
    start_service: StartService, profile: Profile, figures: Figures
) -> None:
    service = start_service(
        WORKERS=str(WORKERS), MAX_IN_FLIGHT=str(MAX_IN_FLIGHT), MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        RATE_LIMIT_ENABLED="false", KEEPALIVE="30", MAX_REQUESTS="0",
    )  # fmt: skip
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    admitted = WORKERS * MAX_IN_FLIGHT
    clients = admitted * (5 if profile.name == "short" else 20)  # far beyond what is admitted
    duration = 3.0 if profile.name == "short" else 20.0
    recorder = Recorder()
    rejected: list[tuple[float, Reply]] = []

    async def client(stop_at: float) -> None:
        connection = Connection(host, port)
        while time.monotonic() < stop_at:
            reply = await connection.request(
                "GET", f"/api/v1/test/slow?seconds={WORK_SECONDS}", recorder, limit_seconds=10
            )
            if reply.status == 503:
                rejected.append((recorder.samples[-1].seconds, reply))
                # Less than Retry-After asks, so the crowd stays beyond capacity; a pause all the
                # same, or the test's own client loop would be the bottleneck it measures.
                await asyncio.sleep(0.2)
        connection.close()

    recorder.marks["overload starts"] = time.monotonic()
    stop_at = time.monotonic() + duration
    await asyncio.gather(*(client(stop_at) for _ in range(clients)))
    overload = recorder.samples[:]

    # Load drops to what the instance admits: every request succeeds again.
    recorder.marks["load drops"] = time.monotonic()
    after = Recorder()

    async def calm_client() -> None:
        connection = Connection(host, port)
        for _ in range(3):
            await connection.get(f"/api/v1/test/slow?seconds={WORK_SECONDS / 5}", after)
        connection.close()

    # Half of what is admitted, since connections need not spread evenly over the workers.
    await asyncio.gather(*(calm_client() for _ in range(admitted // 2)))
    recorder.samples.extend(after.samples)

    statuses = [sample.status for sample in overload]
    failed = [s for s in overload if s.status == 0]
    rejected_seconds = sorted(seconds for seconds, _ in rejected)
    p99_rejected = rejected_seconds[int(0.99 * (len(rejected_seconds) - 1))] if rejected_seconds else 0.0
    figures.record(
        "overload beyond MAX_IN_FLIGHT", recorder, clients=clients, admitted_at_once=admitted,
        ok=statuses.count(200), rejected_503=statuses.count(503), failed_connections=len(failed),
        rejected_p99_s=round(p99_rejected, 4), work_seconds=WORK_SECONDS,
        after_load_drops=len(after.samples),
        after_load_drops_ok=sum(1 for s in after.samples if s.status == 200),
    )  # fmt: skip

    assert set(statuses) <= {0, 200, 503}
    assert statuses.count(200) > 0, "nothing got through"
    assert rejected, "nothing was shed: the load did not exceed what is admitted"
    # A refused connection or a reset is not the answer the issue asks for; a few are tolerated.
    assert len(failed) <= 0.02 * len(overload)
    for _, reply in rejected:
        assert reply.headers.get("content-type", "").startswith("application/json")
        assert int(reply.headers["retry-after"]) >= 1
        assert json.loads(reply.body)["error"]["code"] == "overloaded"
    # Fast: a rejection never waits for work to finish (a queue would make it wait WORK_SECONDS or more).
    assert p99_rejected < WORK_SECONDS
    assert [s.status for s in after.samples] == [200] * len(after.samples)
