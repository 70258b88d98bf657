"""The soak profile (`make soak`): steady load for SOAK_SECONDS (30 min), RSS per worker sampled;
each worker's memory may grow by less than 5 % from the end of warm-up to the end of the run.

Skipped unless LOAD_PROFILE=soak: it is too long for `make test` and `make load`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import StartService
from tests.load.client import Connection, Recorder
from tests.load.conftest import Figures
from tests.load.profile import Profile

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "1800"))

pytestmark = pytest.mark.timeout(int(SOAK_SECONDS) + 300)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.asyncio
async def test_worker_memory_stays_flat_under_steady_load(
    start_service: StartService, profile: Profile, figures: Figures
) -> None:
    if os.environ.get("LOAD_PROFILE") != "soak":
        pytest.skip("the soak runs with LOAD_PROFILE=soak (make soak)")
    # MAX_REQUESTS=0: a recycled worker would hide a leak.
    service = start_service(RATE_LIMIT_ENABLED="false", MAX_REQUESTS="0", KEEPALIVE="30")
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    recorder = Recorder()
    workers = service.worker_pids()
    rss: dict[int, list[tuple[float, int]]] = {pid: [] for pid in workers}
    warm_up = min(60.0, SOAK_SECONDS / 4)
    started = time.monotonic()
    stop_at = started + SOAK_SECONDS

    async def client(index: int) -> None:
        connection = Connection(host, port)
        while time.monotonic() < stop_at:
            await connection.get(f"/api/v1/test/slow?seconds=0.01&n={index % 97}", recorder)
        connection.close()

    async def sampler() -> None:
        while time.monotonic() < stop_at:
            for pid in workers:
                rss[pid].append((time.monotonic() - started, rss_kib(pid)))
            await asyncio.sleep(max(1.0, SOAK_SECONDS / 300))

    await asyncio.gather(sampler(), *(client(i) for i in range(profile.steady_clients)))
    assert service.worker_pids() == workers, "a worker was replaced during the soak"

    growth = {}
    for pid, samples in rss.items():
        after_warm_up = [kib for t, kib in samples if t >= warm_up]
        growth[pid] = (after_warm_up[-1] - after_warm_up[0]) / after_warm_up[0]
    figures.record(
        "soak", recorder, seconds=SOAK_SECONDS,
        rss_growth_percent={str(pid): round(100 * g, 2) for pid, g in growth.items()},
        rss_kib={str(pid): [kib for _, kib in samples] for pid, samples in rss.items()},
    )  # fmt: skip
    assert recorder.errors() == []
    assert max(growth.values()) < 0.05, f"RSS growth per worker: {growth}"
