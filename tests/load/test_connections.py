"""Thousands of keep-alive connections with think times, half doctors asking cached questions, half
patients in a pre-consultation dialogue: none is dropped or refused, every answer is a 2xx, p99 < 1 s."""

from __future__ import annotations

import asyncio
import json
import random
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Service, StartService
from tests.load.client import Connection, Recorder, converse
from tests.load.conftest import Figures, wait_started
from tests.load.profile import Profile
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers

pytestmark = pytest.mark.timeout(300)

WORKERS = 2  # per service: two services share the machine


QUESTIONS = ("高血压有哪些症状？", "哮喘有哪些症状？", "糖尿病有哪些症状？", "头痛怎么办？")


def _warm(url: str, headers: dict[str, str]) -> None:
    """Every question answered once by each worker, so the doctors' questions are cache hits."""
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(4 * WORKERS):
            for question in QUESTIONS:  # Connection: close spreads them over the workers
                reply = client.post(
                    "/api/v1/medical/qa", json={"question": question}, headers={"Connection": "close"}
                )
                assert reply.status_code == 200, reply.text


def _address(service: Service) -> tuple[str, int]:
    parts = urlsplit(service.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


@pytest.mark.asyncio
async def test_keep_alive_connections_with_think_times_all_get_answers(
    start_service: StartService, profile: Profile, figures: Figures
) -> None:
    # MAX_REQUESTS=0: a worker recycled after MAX_REQUESTS closes every connection it holds, which
    # is not what this test is about (clients reconnect then; the SIGHUP/kill tests cover restarts).
    env = {
        "RATE_LIMIT_ENABLED": "false", "KEEPALIVE": str(int(profile.max_think) + 10),
        "MAX_CONNECTIONS": "4096", "MAX_REQUESTS": "0", "WORKERS": str(WORKERS),
    }  # fmt: skip
    doctor = start_service("backend.doctor.app:app", wait=False, **env, **TEST_AUTH_ENV)
    patient = start_service("backend.patient.app:app", wait=False, **env)
    await asyncio.gather(*(asyncio.to_thread(wait_started, s, WORKERS) for s in (doctor, patient)))
    headers = await asyncio.to_thread(service_admin_headers, doctor.url)
    await asyncio.to_thread(_warm, doctor.url, headers)
    recorder = Recorder()
    rng = random.Random(16)
    reconnects = 0
    cached: list[bool] = []
    bodies = [json.dumps({"question": q}).encode() for q in QUESTIONS]

    async def ask(connection: Connection) -> None:
        reply = await connection.request(
            "POST", "/api/v1/medical/qa", recorder, headers=headers, json_body=rng.choice(bodies)
        )
        if reply.status == 200:
            cached.append(bool(json.loads(reply.body).get("cached")))

    async def client(connection: Connection, stop_at: float) -> None:
        nonlocal reconnects
        session: dict[str, str] = {}
        await asyncio.sleep(rng.uniform(0, profile.max_think))  # spread the first requests
        while time.monotonic() < stop_at:
            was_open = connection.writer is not None
            if connection.port == doctor_port:
                await ask(connection)
            else:
                await converse(connection, session, recorder, rng)
            reconnects += was_open and connection.writer is None
            await asyncio.sleep(rng.uniform(1, profile.max_think))

    doctor_port, patient_port = _address(doctor)[1], _address(patient)[1]
    connections = [
        Connection("127.0.0.1", doctor_port if n % 2 == 0 else patient_port)
        for n in range(profile.connections)
    ]
    for start in range(0, len(connections), 200):
        await asyncio.gather(*(c.open() for c in connections[start : start + 200]))
    stop_at = time.monotonic() + profile.hold_seconds
    await asyncio.gather(*(client(c, stop_at) for c in connections))
    still_open = sum(1 for c in connections if c.writer is not None)
    for connection in connections:
        connection.close()

    statuses = [s.status for s in recorder.samples]
    figures.record(
        "keep-alive connections", recorder, connections=profile.connections, still_open=still_open,
        closed_by_server=reconnects, hold_seconds=profile.hold_seconds,
        qa_answers=len(cached), qa_cached_ratio=round(sum(cached) / max(1, len(cached)), 3),
        sessions=statuses.count(201), messages=statuses.count(200) - len(cached),
    )  # fmt: skip
    assert len(recorder.samples) >= profile.connections
    assert recorder.errors() == []
    assert set(statuses) == {200, 201}
    assert sum(cached) > 0.9 * len(cached), "the doctors' questions were not answered from the cache"
    assert still_open == profile.connections, "the server closed idle connections within KEEPALIVE"
    assert recorder.percentile(0.99) < 1.0
