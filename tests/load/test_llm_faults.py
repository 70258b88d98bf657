"""The LLM down, slow and answering garbage under load of uncached doctor QA: 0 5xx, degraded answers
within LLM_TIMEOUT, and the breaker opens, then closes once the LLM is back."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Service, StartService
from tests.load.client import Connection, Recorder, Sample
from tests.load.conftest import Figures
from tests.load.profile import Profile
from tests.support.auth import TEST_AUTH_ENV, admin_headers, bearer, login
from tests.support.fake_llm import FakeLLM, Mode, fake_llm  # noqa: F401

pytestmark = pytest.mark.timeout(180)

# Above what a healthy LLM call takes under this load: with 100 clients asking back to back on two
# cores (the fake LLM shares its process with them), healthy calls reached a p99 of 1.0-1.4 s once
# retrieval got faster, and a 1 s timeout degraded answers of the healthy phase.
LLM_TIMEOUT = 2.0
BREAKER_RESET = 0.5
# When answers must be clean again after the LLM recovers: a call admitted just before the switch may
# still time out (LLM_TIMEOUT) and reopen the breaker, which then waits BREAKER_RESET for its trial.
RECOVERED_AFTER = LLM_TIMEOUT + BREAKER_RESET + 1.0
GRACE = 0.3  # requests that began this close to a switch may have met the LLM of the phase before
# Questions the knowledge base answers; a counter makes each one distinct, so the cache never does.
TOPICS = ("高血压有哪些症状？", "哮喘有哪些症状？", "糖尿病有哪些症状？", "头痛怎么办？")


@dataclass
class Phase:
    mode: Mode
    label: str
    seconds: float
    started: float = 0.0
    ended: float = 0.0


@dataclass
class Answer:
    sample: Sample
    degraded: bool | None  # None: no JSON answer
    cached: bool | None


def _doctor_headers(url: str) -> dict[str, str]:
    """Sign in as a doctor account the first admin creates (setup, before any load runs)."""
    account = {"username": "dr-load", "password": "dr-load-password", "role": "doctor"}
    with httpx.Client(base_url=url) as client:
        created = client.post("/api/v1/admin/users", json=account, headers=admin_headers(client))
        assert created.status_code == 201, created.text
        return bearer(str(login(client, "dr-load", "dr-load-password")["access_token"]))


def _end(answer: Answer) -> float:
    return answer.sample.started + answer.sample.seconds


def _phases(scale: float) -> list[Phase]:
    ok = RECOVERED_AFTER + 0.75 * scale  # then answers that must be clean
    # A slow LLM degrades nothing before the first calls time out (LLM_TIMEOUT) and open the breaker:
    # the fault must outlast that for answers to begin and end inside it.
    fault = LLM_TIMEOUT + 1.75 * scale
    return [
        Phase("ok", "LLM ok", 1.5 * scale),
        Phase("error", "LLM down (500)", fault),
        Phase("ok", "LLM back after 500s", ok),
        Phase("slow", "LLM slow (3x LLM_TIMEOUT)", fault),
        Phase("ok", "LLM back after slow", ok),
        Phase("malformed", "LLM garbage", fault),
        Phase("ok", "LLM back after garbage", ok),
    ]


async def _watch_breaker(service: Service, seen: list[tuple[float, float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        state = await asyncio.to_thread(service.metric, "medqa_llm_breaker_state")
        seen.append((time.monotonic(), state))
        await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_llm_faults_under_load_degrade_fast_and_the_breaker_recovers(
    start_service: StartService,
    profile: Profile,
    figures: Figures,
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    service = start_service(
        "backend.doctor.app:app", WORKERS="2", RATE_LIMIT_QA="100000/minute", RATE_LIMIT_ENABLED="false",
        LLM_BASE_URL=fake_llm.url, LLM_MODEL="fake", LLM_TIMEOUT=str(LLM_TIMEOUT),
        LLM_BREAKER_FAILURES="3", LLM_BREAKER_RESET_SECONDS=str(BREAKER_RESET), KEEPALIVE="30",
        MAX_REQUESTS="0", **TEST_AUTH_ENV,
    )  # fmt: skip
    headers = _doctor_headers(service.url)
    fake_llm.slow_seconds = 3 * LLM_TIMEOUT
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    recorder = Recorder()
    answers: list[Answer] = []
    numbers = itertools.count()
    stop = asyncio.Event()

    async def doctor(warmed: asyncio.Barrier) -> None:
        connection = Connection(host, port)
        # One unrecorded question each first: the workers' first answers load their knowledge stores,
        # and that start-up cost is not what the baseline should measure.
        await connection.request(
            "POST", "/api/v1/medical/qa", Recorder(), headers=headers, limit_seconds=30,
            json_body=json.dumps({"question": f"{TOPICS[0]}（预热{id(connection)}）"}).encode(),
        )  # fmt: skip
        await warmed.wait()
        while not stop.is_set():
            n = next(numbers)
            question = f"{TOPICS[n % len(TOPICS)]}（第{n}问）"
            reply = await connection.request(
                "POST", "/api/v1/medical/qa", recorder, headers=headers,
                json_body=json.dumps({"question": question}).encode(), limit_seconds=4 * LLM_TIMEOUT,
            )  # fmt: skip
            body = json.loads(reply.body) if reply.status == 200 else {}
            answers.append(Answer(recorder.samples[-1], body.get("degraded"), body.get("cached")))
        connection.close()

    breaker: list[tuple[float, float]] = []
    watcher = asyncio.create_task(_watch_breaker(service, breaker, stop))
    warmed = asyncio.Barrier(profile.steady_clients + 1)
    doctors = [asyncio.create_task(doctor(warmed)) for _ in range(profile.steady_clients)]
    await warmed.wait()
    phases = _phases(1.0 if profile.name == "short" else 4.0)
    for phase in phases:
        fake_llm.mode = phase.mode
        phase.started = time.monotonic()
        if phase is not phases[0]:
            recorder.marks[phase.label] = phase.started
        await asyncio.sleep(phase.seconds)
        phase.ended = time.monotonic()
    stop.set()
    await asyncio.gather(*doctors, watcher)

    def started_in(phase: Phase, after: float = GRACE) -> list[Answer]:
        return [a for a in answers if phase.started + after <= a.sample.started < phase.ended]

    def within(phase: Phase, after: float = GRACE) -> list[Answer]:
        # Began and ended inside the phase: they met only its LLM.
        return [a for a in started_in(phase, after) if _end(a) < phase.ended]

    baseline = [a.sample.seconds for a in started_in(phases[0], after=0.0)]
    baseline_p99 = sorted(baseline)[int(0.99 * (len(baseline) - 1))]
    # What a degraded answer may cost beyond LLM_TIMEOUT: the answer's own work under this load.
    bound = LLM_TIMEOUT + 1.0 + 2 * baseline_p99
    faults = [p for p in phases if p.mode != "ok"]
    per_fault = {}
    for fault in faults:
        during = within(fault)
        opened = any(state == 2 for t, state in breaker if fault.started <= t <= fault.ended + 0.5)
        per_fault[fault.label] = {
            "answers": len(during),
            "degraded": sum(1 for a in during if a.degraded),
            "max_s": round(max((a.sample.seconds for a in started_in(fault)), default=0.0), 3),
            "breaker_opened": opened,
        }
    recoveries = [p for p in phases[1:] if p.mode == "ok"]
    recovered = {
        p.label: [a for a in within(p, after=0.0) if a.sample.started >= p.started + RECOVERED_AFTER]
        for p in recoveries
    }
    breaker_open_calls = service.metric("medqa_llm_calls_total", outcome="breaker_open")
    figures.record(
        "LLM faults under QA load", recorder, clients=profile.steady_clients, llm_timeout_s=LLM_TIMEOUT,
        degraded_bound_s=round(bound, 3), ok_p99_s=round(baseline_p99, 4), faults=per_fault,
        calls_refused_by_breaker=breaker_open_calls, llm_calls=fake_llm.calls,
    )  # fmt: skip

    assert recorder.errors() == [], "a 5xx or a failed connection"
    assert {a.sample.status for a in answers} == {200}
    assert not any(a.cached for a in answers), "the cache answered: the LLM was not exercised"
    first = within(phases[0], after=0.0)
    assert first
    assert not any(a.degraded for a in first)
    for fault in faults:
        during = within(fault)
        assert during, fault.label
        assert all(a.degraded for a in during), fault.label
        assert max(a.sample.seconds for a in started_in(fault)) <= bound, fault.label
        assert per_fault[fault.label]["breaker_opened"], fault.label
    assert breaker_open_calls > 0
    for phase in recoveries:
        last_second = recovered[phase.label]
        assert last_second, phase.label
        assert not any(a.degraded for a in last_second), phase.label
        states = [state for t, state in breaker if phase.started + RECOVERED_AFTER <= t <= phase.ended]
        assert states, phase.label
        assert set(states) == {0}, f"{phase.label}: the breaker did not close"
