"""An OpenAI-compatible chat-completions client, one per worker, made in the app lifespan.

LLM_BASE_URL includes the API version path, as with OpenAI's SDK: requests go to
f"{LLM_BASE_URL}/chat/completions", so "http://127.0.0.1:8000/v1" for vLLM or llama.cpp, and
providers whose path is not /v1 (e.g. ".../api/paas/v4") work unchanged.

Every failure is one exception, `LLMUnavailable(reason)`, on which callers degrade to answers composed
from the knowledge itself. There are no retries: a retry doubles the worst-case latency of a request
that already waited llm_timeout, and the degraded answer is always available. Instead:

- at most llm_max_concurrency calls per worker reach the LLM (an asyncio.Semaphore). The httpx pool
  has no cap of its own: httpcore 1.0.9 leaks a pool slot for good when a call is cancelled (our
  timeout) while it waits for a pool connection (encode/httpcore#1093), and with a cap equal to the
  slots a worker's pool filled with leaked slots after an LLM slow spell, so every later call timed
  out against a healthy LLM and the breaker never closed again (seen in tests/load/test_llm_faults);
- llm_timeout bounds the whole call, waiting for a slot included, and for `stream` the whole stream;
- a circuit breaker fails calls fast while the LLM keeps failing, so requests do not pile up waiting
  for timeouts. Waiting too long for a local slot is reported as a timeout but says nothing about the
  LLM, so it does not count towards opening the breaker.

Usage:

    llm = LLMClient.from_settings(settings, service)       # None when LLM_BASE_URL is empty
    answer = await llm.complete(messages)
    async with contextlib.aclosing(llm.stream(messages)) as chunks:
        async for text in chunks: ...
    await llm.aclose()

`stream` can raise `LLMUnavailable` after it has yielded some text (the LLM stalled or sent garbage
mid-answer); callers decide what to do with the part they have. Consume it inside `aclosing`, so a
consumer that stops early gives back its slot at once rather than when the generator is collected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from backend.core.breaker import BreakerState, CircuitBreaker, Ticket
from backend.core.config import Settings
from backend.core.llm.metrics import LLM_BREAKER_STATE, LLM_CALLS, LLM_DURATION, Outcome
from backend.core.logging import get_logger

# A chat answer is kilobytes; anything near these sizes is a misbehaving server, not an answer,
# and holding it in a worker's memory is what the bounds are for.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_SSE_LINE_BYTES = 1024 * 1024

Messages = Sequence[Mapping[str, str]]

log = get_logger("llm")


class LLMUnavailable(Exception):
    """The LLM gave no usable answer. `reason`: breaker_open, timeout, http_<status>, malformed,
    connection."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMClient:
    def __init__(
        self,
        *,
        base_url: str,
        service: str,
        model: str = "",
        api_key: str = "",
        timeout: float = 20.0,
        max_concurrency: int = 8,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("LLM_BASE_URL must be an http(s) URL including its version path, e.g. .../v1")
        if timeout <= 0 or max_concurrency < 1:
            raise ValueError("timeout must be > 0 and max_concurrency >= 1")
        self._url = f"{base_url.strip().rstrip('/')}/chat/completions"
        self.service = service
        self._model = model
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=max_concurrency),
            # A backstop only: asyncio deadlines bound the whole call, httpx's bound each phase.
            timeout=httpx.Timeout(timeout),
        )
        self.breaker = CircuitBreaker(
            breaker_failures, breaker_reset_seconds, on_change=self._breaker_changed
        )
        LLM_BREAKER_STATE.labels(service).set(BreakerState.CLOSED)

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> LLMClient | None:
        """The worker's client, or None when no LLM is configured (answers then come from the
        knowledge alone)."""
        if not settings.llm_base_url.strip():
            return None
        return cls(
            base_url=settings.llm_base_url,
            service=service,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
            max_concurrency=settings.llm_max_concurrency,
            breaker_failures=settings.llm_breaker_failures,
            breaker_reset_seconds=settings.llm_breaker_reset_seconds,
        )

    @property
    def url(self) -> str:
        return self._url

    async def complete(
        self, messages: Messages, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> str:
        """The answer's text; raises LLMUnavailable."""
        request = self._request(messages, stream=False, temperature=temperature, max_tokens=max_tokens)
        with _Call(self) as call:
            # One deadline over queueing and the exchange: no await here yields to a caller, so a
            # plain timeout scope is safe (unlike in `stream`).
            async with asyncio.timeout(self._timeout), self._slots:
                call.dispatched = True
                response = await self._http.send(request, stream=True)
                try:
                    _check_status(response)
                    body = await _read_capped(response)
                finally:
                    await response.aclose()
            return _answer_text(body)

    async def stream(
        self, messages: Messages, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> AsyncGenerator[str, None]:
        """The answer's text in pieces as the LLM writes it; raises LLMUnavailable, possibly after
        some pieces were yielded."""
        request = self._request(messages, stream=True, temperature=temperature, max_tokens=max_tokens)
        deadline = asyncio.get_running_loop().time() + self._timeout
        with _Call(self) as call:
            # A timeout scope must never span a `yield`: it would cancel whatever the consumer is
            # doing in between. So each await gets its own scope on one shared deadline.
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
            try:
                call.dispatched = True
                async with asyncio.timeout_at(deadline):
                    response = await self._http.send(request, stream=True)
                chunks = response.aiter_bytes()
                try:
                    _check_status(response)
                    lines = _SSELines()
                    done = produced = False
                    while not done:
                        async with asyncio.timeout_at(deadline):
                            chunk = await anext(chunks, None)
                        payloads = lines.feed(chunk) if chunk is not None else lines.close()
                        for payload in payloads:
                            if payload == "[DONE]":
                                done = True
                                break
                            text = _delta_text(payload)
                            if text:
                                produced = True
                                yield text
                        if chunk is None:
                            break
                    # Without [DONE] the answer may be cut short; a medical answer cut short can
                    # say the opposite of the whole one.
                    if not (done and produced):
                        raise LLMUnavailable("malformed")
                finally:
                    if isinstance(chunks, AsyncGenerator):
                        await chunks.aclose()
                    await response.aclose()
            finally:
                self._slots.release()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _request(
        self, messages: Messages, *, stream: bool, temperature: float | None, max_tokens: int | None
    ) -> httpx.Request:
        body: dict[str, Any] = {"messages": [dict(message) for message in messages], "stream": stream}
        # Servers that serve one model (llama.cpp, many vLLM set-ups) need no name; OpenAI does.
        if self._model:
            body["model"] = self._model
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        accept = "text/event-stream" if stream else "application/json"
        return self._http.build_request("POST", self._url, json=body, headers={"Accept": accept})

    def _breaker_changed(self, state: BreakerState) -> None:
        LLM_BREAKER_STATE.labels(self.service).set(state)
        log.warning("llm circuit breaker %s", state.name.lower(), extra={"service": self.service})


class _Call:
    """One call's admission and verdict: the breaker, the metrics, and LLMUnavailable for every
    failure, in one place for `complete` and `stream`."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client
        self._ticket: Ticket | None = None
        self._started = 0.0
        # Set once the call holds a slot and goes to the LLM: only from then on does a failure
        # say something about the LLM.
        self.dispatched = False

    def __enter__(self) -> _Call:
        self._ticket = self._client.breaker.admit()
        if self._ticket is None:
            LLM_CALLS.labels(self._client.service, "breaker_open").inc()
            raise LLMUnavailable("breaker_open")
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._ticket is not None
        breaker = self._client.breaker
        if exc is None:
            breaker.record_success(self._ticket)
            self._record("ok")
            return
        reason = _reason(exc) if isinstance(exc, Exception) else None
        if reason is None:
            # Cancelled by the caller, a stream its consumer stopped reading, or a bug of ours:
            # nothing learnt about the LLM, and not a call outcome.
            breaker.release(self._ticket)
            return
        if self.dispatched:
            breaker.record_failure(self._ticket)
        else:
            breaker.release(self._ticket)
        self._record("http_error" if reason.startswith("http_") else _OUTCOMES[reason])
        log.warning("llm call failed", extra={"service": self._client.service, "reason": reason})
        if not isinstance(exc, LLMUnavailable):
            raise LLMUnavailable(reason) from exc

    def _record(self, outcome: Outcome) -> None:
        LLM_CALLS.labels(self._client.service, outcome).inc()
        LLM_DURATION.labels(self._client.service).observe(time.monotonic() - self._started)


_OUTCOMES: dict[str, Outcome] = {"timeout": "timeout", "malformed": "malformed", "connection": "connection"}


def _reason(exc: Exception) -> str | None:
    if isinstance(exc, LLMUnavailable):
        return exc.reason
    # httpx's TimeoutException is also a TransportError: it must be tested first.
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.DecodingError):
        return "malformed"
    if isinstance(exc, httpx.HTTPError):
        return "connection"
    return None


def _check_status(response: httpx.Response) -> None:
    if not response.is_success:
        raise LLMUnavailable(f"http_{response.status_code}")


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise LLMUnavailable("malformed")
    return bytes(body)


def _answer_text(body: bytes) -> str:
    try:
        payload = orjson.loads(body)
        content = payload["choices"][0]["message"]["content"]
    except (orjson.JSONDecodeError, LookupError, TypeError):
        raise LLMUnavailable("malformed") from None
    if not isinstance(content, str) or not content.strip():
        raise LLMUnavailable("malformed")
    return content


def _delta_text(data: str) -> str | None:
    """The text of one stream chunk; None for chunks without text (role, finish, usage)."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise LLMUnavailable("malformed") from None
    # A mid-stream {"error": ...} is how several servers report failures after the 200.
    if not isinstance(payload, dict) or "error" in payload or not isinstance(payload.get("choices"), list):
        raise LLMUnavailable("malformed")
    choices = payload["choices"]
    if not choices:
        return None
    choice = choices[0]
    if not isinstance(choice, dict):
        raise LLMUnavailable("malformed")
    delta = choice.get("delta")
    if delta is None:
        return None
    content = delta.get("content") if isinstance(delta, dict) else ...
    if content is None or isinstance(content, str):
        return content
    raise LLMUnavailable("malformed")


class _SSELines:
    """The `data:` payloads of a server-sent-events byte stream, one per line.

    OpenAI-style servers put one JSON object on each data line; taking each line on its own, rather
    than joining the lines of an event, also copes with servers that omit the blank separator line.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[str]:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        if len(self._buffer) > MAX_SSE_LINE_BYTES:
            raise LLMUnavailable("malformed")
        return [data for line in lines if (data := _data(line)) is not None]

    def close(self) -> list[str]:
        line, self._buffer = self._buffer, b""
        data = _data(line)
        return [] if data is None else [data]


def _data(line: bytes) -> str | None:
    field, colon, value = line.rstrip(b"\r").partition(b":")
    if field != b"data" or not colon:
        return None  # blank separators, comments, event:/id:/retry: fields
    try:
        return value.removeprefix(b" ").decode()
    except UnicodeDecodeError:
        raise LLMUnavailable("malformed") from None
