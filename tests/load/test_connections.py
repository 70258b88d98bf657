"""Thousands of keep-alive connections with think times: none is dropped or refused, p99 < 1 s."""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import StartService
from tests.load.client import Connection, Recorder
from tests.load.conftest import Figures
from tests.load.profile import Profile

pytestmark = pytest.mark.timeout(300)


@pytest.mark.asyncio
async def test_keep_alive_connections_with_think_times_all_get_answers(
    start_service: StartService, profile: Profile, figures: Figures
) -> None:
    # MAX_REQUESTS=0: a worker recycled after MAX_REQUESTS closes every connection it holds, which
    # is not what this test is about (clients reconnect then; the SIGHUP/kill tests cover restarts).
    service = start_service(
        RATE_LIMIT_ENABLED="false", KEEPALIVE=str(int(profile.max_think) + 10), MAX_CONNECTIONS="4096",
        MAX_REQUESTS="0",
    )  # fmt: skip
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    recorder = Recorder()
    rng = random.Random(16)
    reconnects = 0

    async def patient(connection: Connection, stop_at: float) -> None:
        nonlocal reconnects
        await asyncio.sleep(rng.uniform(0, profile.max_think))  # spread the first requests
        while time.monotonic() < stop_at:
            was_open = connection.writer is not None
            await connection.get("/api/v1/test/slow?seconds=0", recorder)
            reconnects += was_open and connection.writer is None
            await asyncio.sleep(rng.uniform(1, profile.max_think))

    connections = [Connection(host, port) for _ in range(profile.connections)]
    for start in range(0, len(connections), 200):
        await asyncio.gather(*(c.open() for c in connections[start : start + 200]))
    stop_at = time.monotonic() + profile.hold_seconds
    await asyncio.gather(*(patient(c, stop_at) for c in connections))
    still_open = sum(1 for c in connections if c.writer is not None)
    for connection in connections:
        connection.close()

    figures.record(
        "keep-alive connections", recorder, connections=profile.connections, still_open=still_open,
        closed_by_server=reconnects, hold_seconds=profile.hold_seconds,
    )  # fmt: skip
    assert len(recorder.samples) >= profile.connections
    assert recorder.errors() == []
    assert {s.status for s in recorder.samples} == {200}
    assert still_open == profile.connections, "the server closed idle connections within KEEPALIVE"
    assert recorder.percentile(0.99) < 1.0
