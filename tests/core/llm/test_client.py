"""LLMClient against a real HTTP server that answers, stalls, fails or talks nonsense on demand."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import pytest
from prometheus_client import REGISTRY

from backend.core.breaker import BreakerState
from backend.core.config import Settings
from backend.core.llm.client import LLMClient, LLMUnavailable
from backend.devstack.processes import free_port
from tests.support.fake_llm import DEFAULT_ANSWER, DEFAULT_CHUNKS, FakeLLM, Mode, fake_llm  # noqa: F401

pytestmark = pytest.mark.anyio

MESSAGES = [
    {"role": "system", "content": "Answer from the context."},
    {"role": "user", "content": "头痛怎么办？"},
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def llm_client(
    url: str,
    *,
    llm_timeout: float = 2.0,
    max_concurrency: int = 4,
    failures: int = 3,
    reset_seconds: float = 30.0,
) -> AsyncIterator[LLMClient]:
    settings = Settings(
        llm_base_url=url,
        llm_api_key="sk-test",
        llm_model="fake-model",
        llm_timeout=llm_timeout,
        llm_max_concurrency=max_concurrency,
        llm_breaker_failures=failures,
        llm_breaker_reset_seconds=reset_seconds,
    )
    # A service label of its own per test, so metric values start from nothing.
    client = LLMClient.from_settings(settings, f"llmtest-{uuid.uuid4().hex[:8]}")
    assert client is not None
    async with client:
        yield client


def calls(client: LLMClient, outcome: str) -> float:
    labels = {"service": client.service, "outcome": outcome}
    return REGISTRY.get_sample_value("medqa_llm_calls_total", labels) or 0.0


def observed(client: LLMClient) -> float:
    value = REGISTRY.get_sample_value("medqa_llm_call_duration_seconds_count", {"service": client.service})
    return value or 0.0


def state(client: LLMClient) -> BreakerState:
    # Through a call, so mypy does not narrow the property across the transitions a test makes.
    return client.breaker.state


def breaker_gauge(client: LLMClient) -> float | None:
    return REGISTRY.get_sample_value("medqa_llm_breaker_state", {"service": client.service})


async def unavailable(client: LLMClient) -> str:
    with pytest.raises(LLMUnavailable) as caught:
        await client.complete(MESSAGES)
    return caught.value.reason


async def collect(client: LLMClient, received: list[str] | None = None) -> list[str]:
    """The streamed pieces; also appended to `received`, which keeps them when the stream fails."""
    received = [] if received is None else received
    async with aclosing(client.stream(MESSAGES)) as chunks:
        async for text in chunks:
            received.append(text)
    return received


async def test_a_good_answer_is_returned_and_counted(fake_llm: FakeLLM) -> None:  # noqa: F811
    async with llm_client(fake_llm.url) as client:
        assert await client.complete(MESSAGES, temperature=0.1) == DEFAULT_ANSWER
        assert calls(client, "ok") == 1
        assert observed(client) == 1
        assert breaker_gauge(client) == 0

    [request] = fake_llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.body == {"model": "fake-model", "messages": MESSAGES, "stream": False, "temperature": 0.1}


async def test_base_url_rule() -> None:
    assert LLMClient.from_settings(Settings(llm_base_url=""), "svc") is None
    async with LLMClient(base_url="http://llm:8000/v1/", service="svc") as client:
        assert client.url == "http://llm:8000/v1/chat/completions"
    with pytest.raises(ValueError, match="LLM_BASE_URL"):
        LLMClient(base_url="llm:8000/v1", service="svc")


async def test_a_stalled_llm_times_out_within_the_timeout(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "slow"
    async with llm_client(fake_llm.url, llm_timeout=0.5) as client:
        started = time.monotonic()
        assert await unavailable(client) == "timeout"
        assert 0.45 <= time.monotonic() - started < 1.2
        assert calls(client, "timeout") == 1


@pytest.mark.parametrize(
    ("mode", "status", "reason", "outcome"),
    [
        ("error", 500, "http_500", "http_error"),
        ("error", 429, "http_429", "http_error"),
        ("malformed", 200, "malformed", "malformed"),
        ("no_choices", 200, "malformed", "malformed"),
        ("empty", 200, "malformed", "malformed"),
        ("stream", 200, "malformed", "malformed"),  # SSE to a request that did not ask for it
    ],
)
async def test_failures_are_one_exception_with_a_reason(
    fake_llm: FakeLLM,  # noqa: F811
    mode: Mode,
    status: int,
    reason: str,
    outcome: str,
) -> None:
    fake_llm.mode = mode
    fake_llm.status = status
    async with llm_client(fake_llm.url) as client:
        assert await unavailable(client) == reason
        assert calls(client, outcome) == 1
        assert client.breaker.consecutive_failures == 1, "every failure mode counts for the breaker"


async def test_connection_refused() -> None:
    async with llm_client(f"http://127.0.0.1:{free_port()}/v1") as client:
        assert await unavailable(client) == "connection"
        assert calls(client, "connection") == 1


async def test_the_breaker_opens_and_then_fails_fast_without_calling(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "error"
    async with llm_client(fake_llm.url, failures=3) as client:
        for _ in range(3):
            assert await unavailable(client) == "http_500"
        assert state(client) is BreakerState.OPEN
        assert breaker_gauge(client) == 2

        fake_llm.mode = "ok"
        started = time.monotonic()
        assert await unavailable(client) == "breaker_open"
        with pytest.raises(LLMUnavailable, match="breaker_open"):
            await collect(client)
        assert time.monotonic() - started < 0.1
        assert fake_llm.calls == 3
        assert calls(client, "breaker_open") == 2
        assert observed(client) == 3, "refused calls are not LLM latency"


async def test_after_the_reset_time_a_successful_trial_closes_it(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "error"
    async with llm_client(fake_llm.url, failures=2, reset_seconds=0.2) as client:
        for _ in range(2):
            await unavailable(client)
        await asyncio.sleep(0.25)
        assert state(client) is BreakerState.HALF_OPEN
        assert breaker_gauge(client) == 1

        fake_llm.mode = "ok"
        assert await client.complete(MESSAGES) == DEFAULT_ANSWER
        assert state(client) is BreakerState.CLOSED
        assert breaker_gauge(client) == 0
        assert fake_llm.calls == 3


async def test_a_failed_trial_reopens_it(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "error"
    async with llm_client(fake_llm.url, failures=2, reset_seconds=0.2) as client:
        for _ in range(2):
            await unavailable(client)
        await asyncio.sleep(0.25)
        assert await unavailable(client) == "http_500"
        assert state(client) is BreakerState.OPEN
        assert await unavailable(client) == "breaker_open"
        assert fake_llm.calls == 3


async def test_half_open_lets_one_trial_through_at_a_time(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "error"
    async with llm_client(fake_llm.url, failures=1, reset_seconds=0.2) as client:
        await unavailable(client)
        await asyncio.sleep(0.25)
        fake_llm.mode = "ok"
        fake_llm.delay = 0.2
        trial = asyncio.create_task(client.complete(MESSAGES))
        await asyncio.sleep(0.05)
        assert await unavailable(client) == "breaker_open"
        assert await trial == DEFAULT_ANSWER
        assert fake_llm.calls == 2


async def test_no_more_than_max_concurrency_calls_reach_the_llm(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.delay = 0.15
    async with llm_client(fake_llm.url, max_concurrency=2) as client:
        answers = await asyncio.gather(*(client.complete(MESSAGES) for _ in range(6)))
    assert answers == [DEFAULT_ANSWER] * 6
    assert fake_llm.calls == 6
    assert fake_llm.max_in_flight == 2


async def test_waiting_for_a_slot_is_within_the_timeout_and_does_not_trip_the_breaker(
    fake_llm: FakeLLM,  # noqa: F811
) -> None:
    # The only slot is held by a stream its reader has paused, so the call below can never get it.
    async with llm_client(fake_llm.url, llm_timeout=0.5, max_concurrency=1, failures=1) as client:
        async with aclosing(client.stream(MESSAGES)) as holder:
            await anext(holder)
            started = time.monotonic()
            assert await unavailable(client) == "timeout"
            assert time.monotonic() - started < 1.0
        assert fake_llm.calls == 1, "the waiting call never reached the LLM"
        assert state(client) is BreakerState.CLOSED, "waiting for a local slot says nothing of the LLM"
        assert calls(client, "timeout") == 1


async def test_a_cancelled_call_is_neither_a_failure_nor_an_outcome(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "slow"
    async with llm_client(fake_llm.url, failures=1) as client:
        task = asyncio.create_task(client.complete(MESSAGES))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert state(client) is BreakerState.CLOSED
        assert observed(client) == 0


async def test_streaming_yields_the_chunks_in_order(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.chunks = [f"piece {i} " for i in range(20)]
    async with llm_client(fake_llm.url) as client:
        assert await collect(client) == fake_llm.chunks
        assert calls(client, "ok") == 1
    [request] = fake_llm.requests
    assert request.body["stream"] is True
    assert request.headers["Accept"] == "text/event-stream"


async def test_streaming_in_ok_mode_follows_the_request(fake_llm: FakeLLM) -> None:  # noqa: F811
    async with llm_client(fake_llm.url) as client:
        assert await collect(client) == list(DEFAULT_CHUNKS)


@pytest.mark.parametrize(
    ("events", "expected_before_failure"),
    [
        (['{"choices": [{"delta": {"content": "Rest "}}]}', "this is not json", "[DONE]"], ["Rest "]),
        (['{"choices": [{"delta": {"content": "Rest "}}]}'], ["Rest "]),  # cut short: no [DONE]
        (['{"error": {"message": "overloaded"}}', "[DONE]"], []),
        (['{"choices": [{"delta": {"role": "assistant"}}]}', "[DONE]"], []),  # no text at all
    ],
)
async def test_a_malformed_stream_fails_after_what_it_yielded(
    fake_llm: FakeLLM,  # noqa: F811
    events: list[str],
    expected_before_failure: list[str],
) -> None:
    fake_llm.mode = "stream"
    fake_llm.stream_events = events
    received: list[str] = []
    async with llm_client(fake_llm.url) as client:
        with pytest.raises(LLMUnavailable, match="malformed"):
            await collect(client, received)
        assert received == expected_before_failure
        assert calls(client, "malformed") == 1
        assert client.breaker.consecutive_failures == 1


async def test_a_stream_that_fails_before_answering(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.mode = "error"
    async with llm_client(fake_llm.url) as client:
        with pytest.raises(LLMUnavailable, match="http_500"):
            await collect(client)
        assert calls(client, "http_error") == 1


async def test_the_whole_stream_is_bounded_by_the_timeout(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.chunks = [f"{i} " for i in range(10)]
    fake_llm.chunk_delay = 0.1  # every chunk is prompt, the answer as a whole is not
    received: list[str] = []
    async with llm_client(fake_llm.url, llm_timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(LLMUnavailable, match="timeout"):
            await collect(client, received)
        assert time.monotonic() - started < 1.2
        assert 0 < len(received) < 10


async def test_a_stream_left_early_gives_its_slot_back(fake_llm: FakeLLM) -> None:  # noqa: F811
    fake_llm.chunk_delay = 0.3
    async with llm_client(fake_llm.url, max_concurrency=1, llm_timeout=1.0) as client:
        async with aclosing(client.stream(MESSAGES)) as chunks:
            async for _ in chunks:
                break
        started = time.monotonic()
        fake_llm.chunk_delay = 0.0
        assert await client.complete(MESSAGES) == DEFAULT_ANSWER
        assert time.monotonic() - started < 0.5
        assert calls(client, "ok") == 1, "the abandoned stream is not an outcome"
        assert client.breaker.consecutive_failures == 0
