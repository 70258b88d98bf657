"""Two doctor instances and a patient instance behind nginx (deploy/nginx/nginx.conf), keep-alive
clients with think times, half doctors asking cached questions and half patients in a dialogue: no
errors; then one doctor instance reloads its workers (SIGHUP) and the other is stopped (SIGTERM,
drained) under that load, and still no request fails: nginx retries elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEY_PREFIX, Service, StartService
from tests.load.client import Connection, Recorder, converse
from tests.load.conftest import Figures, wait_started
from tests.load.edge import Edge, nginx_in_front
from tests.load.profile import Profile
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers

pytestmark = pytest.mark.timeout(300)

WORKERS = 2
QUESTIONS = ("高血压有哪些症状？", "哮喘有哪些症状？", "糖尿病有哪些症状？", "头痛怎么办？")


def _ready_count(service: Service) -> int:
    return service.log().count('"msg":"worker ready"')


async def _reloaded(service: Service, ready_before: int, old: set[int], limit: float = 60.0) -> float:
    """Seconds until every worker is new and has finished its start (after a SIGHUP)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        pids = set(service.worker_pids())
        if not pids & old and len(pids) == WORKERS and _ready_count(service) >= ready_before + WORKERS:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"the workers were not replaced within {limit} s:\n{service.log()[-3000:]}")


def _warm(edge: Edge, headers: dict[str, str]) -> int:
    """Ask every question until each worker of each instance has answered it from its cache."""
    cached = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{edge.doctor_port}", headers=headers, timeout=30) as client:
        for _ in range(4 * WORKERS):
            for question in QUESTIONS:
                # A new connection each time (Connection: close) spreads them over instances and workers.
                reply = client.post(
                    "/api/v1/medical/qa", json={"question": question}, headers={"Connection": "close"}
                )
                assert reply.status_code == 200, reply.text
                cached += bool(reply.json().get("cached"))
    return cached


@pytest.mark.asyncio
async def test_nginx_in_front_of_two_instances_loses_no_request_on_reload_and_drain(
    start_service: StartService, profile: Profile, figures: Figures, tmp_path: Path
) -> None:
    # One deployment: both instances share the database and the Redis key space.
    shared = {
        "WORKERS": str(WORKERS), "RATE_LIMIT_ENABLED": "false", "MAX_REQUESTS": "0",
        "REDIS_KEY_PREFIX": f"{KEY_PREFIX}nginx-{os.getpid()}:", **TEST_AUTH_ENV,
    }  # fmt: skip
    first = start_service("backend.doctor.app:app", wait=False, **shared)
    second = start_service("backend.doctor.app:app", wait=False, **shared)
    patients = start_service(
        "backend.patient.app:app", wait=False,
        WORKERS=str(WORKERS), RATE_LIMIT_ENABLED="false", MAX_REQUESTS="0",
    )  # fmt: skip
    started = (first, second, patients)
    await asyncio.gather(*(asyncio.to_thread(wait_started, service, WORKERS) for service in started))
    headers = service_admin_headers(first.url)
    ports = [int(s.url.rsplit(":", 1)[1]) for s in started]

    with nginx_in_front(tmp_path / "nginx", ports[:2], ports[2:]) as edge:
        warm_cached = await asyncio.to_thread(_warm, edge, headers)
        phases = {"keep-alive": Recorder(), "SIGHUP": Recorder(), "SIGTERM": Recorder()}
        phase = "keep-alive"
        cached: dict[str, list[bool]] = {name: [] for name in phases}
        stop = asyncio.Event()
        hold_seconds = profile.hold_seconds / 2
        rng = random.Random(16)
        bodies = [json.dumps({"question": q}).encode() for q in QUESTIONS]

        async def doctor(connection: Connection) -> None:
            await asyncio.sleep(rng.uniform(0, profile.max_think))  # spread the first requests
            while not stop.is_set():
                asked_in = phase
                reply = await connection.request(
                    "POST", "/api/v1/medical/qa", phases[asked_in], headers=headers,
                    json_body=rng.choice(bodies), limit_seconds=30,
                )  # fmt: skip
                if reply.status == 200:
                    cached[asked_in].append(bool(json.loads(reply.body).get("cached")))
                with contextlib.suppress(TimeoutError):  # think, unless the run is over
                    await asyncio.wait_for(stop.wait(), rng.uniform(1, profile.max_think))
            connection.close()

        async def patient(connection: Connection) -> None:
            session: dict[str, str] = {}
            await asyncio.sleep(rng.uniform(0, profile.max_think))
            while not stop.is_set():
                await converse(connection, session, phases[phase], rng)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), rng.uniform(1, profile.max_think))
            connection.close()

        # Each connection opens with its first request, as a browser's does: nginx closes one that
        # sends nothing within client_header_timeout (10 s), and the first pause may be longer.
        connections = [
            Connection("127.0.0.1", edge.doctor_port if n % 2 == 0 else edge.patient_port)
            for n in range(profile.connections)
        ]
        clients = [
            asyncio.create_task(doctor(c) if c.port == edge.doctor_port else patient(c)) for c in connections
        ]
        # Half the keep-alive test's hold: that test covers the connections, this one what is behind nginx.
        await asyncio.sleep(hold_seconds)

        # Reload: new workers start, the old ones drain; the master keeps the listening socket.
        phase = "SIGHUP"
        phases[phase].marks["SIGHUP"] = time.monotonic()
        old, ready_before = set(first.worker_pids()), _ready_count(first)
        os.kill(first.process.pid, signal.SIGHUP)
        reload_seconds = await _reloaded(first, ready_before, old)
        await asyncio.sleep(profile.max_think / 2)  # the new workers serve

        # Drain: the second instance stops for good; nginx moves its requests to the first.
        phase = "SIGTERM"
        phases[phase].marks["SIGTERM"] = time.monotonic()
        second.process.send_signal(signal.SIGTERM)
        drained_at = time.monotonic()
        exit_code = await asyncio.to_thread(second.process.wait, 60)
        drain_seconds = time.monotonic() - drained_at
        await asyncio.sleep(profile.max_think / 2)  # the first instance serves them all
        stop.set()
        await asyncio.gather(*clients)
        access = edge.access()

    retried = sum(1 for line in access if "," in line["upstream_status"])
    for name, recorder in phases.items():
        replies = cached[name]
        extra: dict[str, object] = {"cached_ratio": round(sum(replies) / max(1, len(replies)), 3)}
        if name == "keep-alive":
            extra.update(connections=profile.connections, hold_s=hold_seconds, warmed=warm_cached)
        elif name == "SIGHUP":
            extra.update(workers_replaced_s=round(reload_seconds, 3))
        else:
            extra.update(drain_s=round(drain_seconds, 3), exit_code=exit_code, nginx_retried=retried)
        figures.record(f"nginx: {name}", recorder, statuses=_statuses(recorder), **extra)

    if profile.name == "full":
        # `make load` needs a machine that carries this load. Where requests queue for seconds, those
        # in a draining instance's accept queue longer than proxy_next_upstream_timeout (15 s) are
        # reset when it closes its socket, and nginx no longer retries them: that is overload, and
        # this says so first. The short profile (a shared CI machine) asserts no latency.
        assert phases["keep-alive"].percentile(0.99) < 1.0, "saturated: the faults below would measure that"
    for name, recorder in phases.items():
        assert recorder.samples, name
        assert recorder.errors() == [], f"{name}: {_statuses(recorder)}"
        assert {s.status for s in recorder.samples} <= {200, 201}, name  # 201: a session opened
    assert exit_code == 0
    upstreams = {line["upstream_addr"].split(",")[-1].strip() for line in access if line["status"] == 200}
    assert {f"127.0.0.1:{port}" for port in ports} <= upstreams, "nginx did not use every instance"
    # Cached QA is what this test loads nginx with: most answers come from the cache.
    assert sum(cached["keep-alive"]) > 0.9 * len(cached["keep-alive"])


def _statuses(recorder: Recorder) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in recorder.samples:
        counts[str(sample.status)] = counts.get(str(sample.status), 0) + 1
    return counts
