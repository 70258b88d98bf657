"""Redis behind Sentinel loses its primary (SIGKILL) under load of cached doctor QA and patient dialogues:
QA never fails (the cache's L1 serves), every message answered 200 is in its session afterwards, writes
during the failover answer 200 or a JSON 503 and none is half applied, and writes work again once a
Sentinel has promoted the replica, without restarting anything."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Service, StartService
from tests.load.client import Connection, Recorder
from tests.load.conftest import Figures, wait_started
from tests.load.profile import Profile
from tests.load.sentinel import ReplicatedRedis, replicated_redis, wait_ready
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers

pytestmark = pytest.mark.timeout(300)

QUESTIONS = ("高血压有哪些症状？", "哮喘有哪些症状？", "糖尿病有哪些症状？", "头痛怎么办？")
MESSAGES_PER_SESSION = 12
THINK = 0.05


@dataclass
class Session:
    session_id: str
    token: str
    sent: dict[str, int] = field(default_factory=dict)  # text -> status


def _address(service: Service) -> tuple[str, int]:
    parts = urlsplit(service.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _warm(service: Service, headers: dict[str, str], workers: int) -> None:
    with httpx.Client(base_url=service.url, headers=headers, timeout=30) as client:
        for _ in range(4 * workers):  # a new connection each: every worker answers each question
            for question in QUESTIONS:
                reply = client.post(
                    "/api/v1/medical/qa", json={"question": question}, headers={"Connection": "close"}
                )
                assert reply.status_code == 200, reply.text


async def _failover(redis: ReplicatedRedis, limit: float = 30.0) -> float:
    """Seconds until the Sentinels name the replica as the primary."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if await asyncio.to_thread(redis.master_port) == redis.replica_port:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError("no Sentinel promoted the replica")


@pytest.mark.asyncio
async def test_sentinel_failover_under_load_keeps_qa_up_and_loses_no_acknowledged_message(
    start_service: StartService, profile: Profile, figures: Figures, tmp_path: Path
) -> None:
    scale = 1.0 if profile.name == "short" else 5.0
    with replicated_redis(tmp_path / "redis") as redis:
        env = {
            "REDIS_URL": redis.url, "WORKERS": "2", "MAX_REQUESTS": "0", "KEEPALIVE": "30",
            "RATE_LIMIT_DEFAULT": "1000000/minute", "RATE_LIMIT_QA": "1000000/minute",
            "SESSION_MAX_HISTORY": "1000", "REDIS_CONNECT_TIMEOUT": "0.5", "REDIS_SOCKET_TIMEOUT": "1",
        }  # fmt: skip
        doctor = start_service("backend.doctor.app:app", wait=False, **env, **TEST_AUTH_ENV)
        patient = start_service("backend.patient.app:app", wait=False, **env)
        await asyncio.gather(
            asyncio.to_thread(wait_ready, redis),
            asyncio.to_thread(wait_started, doctor, 2),
            asyncio.to_thread(wait_started, patient, 2),
        )
        headers = service_admin_headers(doctor.url)
        await asyncio.to_thread(_warm, doctor, headers, 2)

        qa, writes = Recorder(), Recorder()
        sessions: list[Session] = []
        created: list[int] = []  # statuses of session creations under load
        bad_bodies: list[bytes] = []
        numbers = itertools.count()
        stop = asyncio.Event()
        bodies = [json.dumps({"question": q}).encode() for q in QUESTIONS]

        async def doctor_client(index: int) -> None:
            connection = Connection(*_address(doctor))
            for n in itertools.count(index):
                if stop.is_set():
                    break
                await connection.request(
                    "POST", "/api/v1/medical/qa", qa, headers=headers, json_body=bodies[n % len(bodies)]
                )
                await asyncio.sleep(THINK)
            connection.close()

        async def patient_client() -> None:
            connection = Connection(*_address(patient))
            while not stop.is_set():
                reply = await connection.request("POST", "/api/v1/sessions", writes, json_body=b"{}")
                created.append(reply.status)
                if reply.status != 201:
                    _check_503(reply.status, reply.body, bad_bodies)
                    await asyncio.sleep(THINK)
                    continue
                body = json.loads(reply.body)
                session = Session(body["session_id"], body["token"])
                sessions.append(session)
                auth = {"Authorization": f"Bearer {session.token}"}
                for _ in range(MESSAGES_PER_SESSION):
                    if stop.is_set():
                        break
                    text = f"补充{next(numbers)}：头痛"
                    reply = await connection.request(
                        "POST", f"/api/v1/sessions/{session.session_id}/messages", writes, headers=auth,
                        json_body=json.dumps({"text": text}).encode(),
                    )  # fmt: skip
                    session.sent[text] = reply.status
                    if reply.status != 200:
                        _check_503(reply.status, reply.body, bad_bodies)
                    await asyncio.sleep(THINK)
            connection.close()

        clients = [asyncio.create_task(doctor_client(i)) for i in range(profile.steady_clients // 2)]
        clients += [asyncio.create_task(patient_client()) for _ in range(profile.steady_clients // 2)]
        await asyncio.sleep(2.0 * scale)
        killed_at = time.monotonic()
        for recorder in (qa, writes):
            recorder.marks["SIGKILL primary"] = killed_at
        redis.processes["primary"].send_signal(signal.SIGKILL)
        failover_seconds = await _failover(redis)
        for recorder in (qa, writes):
            recorder.marks["replica promoted"] = time.monotonic()
        await asyncio.sleep(3.0 * scale)
        stop.set()
        await asyncio.gather(*clients)
        ended = time.monotonic()

        read_back = await asyncio.to_thread(_read_sessions, patient, sessions)
        role = (await asyncio.to_thread(redis.replica().info, "replication"))["role"]

    writes_failed = [s for s in writes.samples if s.status != 200 and s.status != 201]
    last_failed = max((s.started + s.seconds for s in writes_failed), default=killed_at)
    sent = [status for session in sessions for status in session.sent.values()]
    figures.record(
        "Sentinel failover: doctor QA", qa, clients=profile.steady_clients // 2,
        statuses=_statuses([s.status for s in qa.samples]),
    )  # fmt: skip
    figures.record(
        "Sentinel failover: patient writes", writes, clients=profile.steady_clients // 2,
        failover_s=round(failover_seconds, 3), writes_failing_for_s=round(last_failed - killed_at, 3),
        sessions=len(sessions), messages=_statuses(sent), creations=_statuses(created),
    )  # fmt: skip

    assert role == "master"
    assert qa.samples
    assert {s.status for s in qa.samples} == {200}, "cached QA failed while Redis failed over"
    assert set(sent) <= {200, 503}
    assert set(created) <= {201, 503}
    assert bad_bodies == [], "a 503 without the JSON error shape"
    assert sent.count(200) > 0
    before = [s for s in writes_failed if s.started + s.seconds < killed_at]
    assert before == [], "writes failed while the primary was up (a pool too small refuses, it must wait)"
    for session in sessions:
        history = read_back[session.session_id]
        said = [m["text"] for m in history if m["role"] == "patient"]
        acknowledged = {text for text, status in session.sent.items() if status == 200}
        assert acknowledged <= set(said), "a message answered 200 is missing from its session"
        assert set(said) <= set(session.sent), "the session holds a message nobody sent"
        assert len(said) == len(set(said)), "a message was applied twice"
        # Whole turns only: the greeting, then each message followed by its reply.
        roles = [m["role"] for m in history]
        assert roles == ["assistant"] + ["patient", "assistant"] * len(said), "a half-applied turn"
    # Recovered by itself: the last second of load wrote without a failure.
    assert last_failed < ended - 1.0, "writes still failed at the end of the run"


def _check_503(status: int, body: bytes, bad: list[bytes]) -> None:
    if status != 503:
        return
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if code not in {"store_unavailable", "overloaded"}:
        bad.append(body)


def _read_sessions(patient: Service, sessions: list[Session]) -> dict[str, list[dict[str, str]]]:
    found = {}
    with httpx.Client(base_url=patient.url, timeout=30) as client:
        for session in sessions:
            reply = client.get(
                f"/api/v1/sessions/{session.session_id}", headers={"Authorization": f"Bearer {session.token}"}
            )
            assert reply.status_code == 200, reply.text
            found[session.session_id] = reply.json()["history"]
    return found


def _statuses(statuses: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return counts
