"""A fake OpenAI-compatible chat-completions server: real HTTP on 127.0.0.1, in a background thread.

Use the fixture by importing it into a test module (pytest finds fixtures in the module's namespace):

    from tests.support.fake_llm import FakeLLM, fake_llm  # noqa: F401

    def test_something(fake_llm: FakeLLM) -> None:  # noqa: F811
        settings = Settings(llm_base_url=fake_llm.url, ...)   # url ends in /v1
        fake_llm.mode = "error"                              # switch at any time, even mid-test
        ...
        assert fake_llm.calls == 1
        assert "<<<CONTEXT" in fake_llm.requests[0].body["messages"][1]["content"]

Or without pytest: `with running_fake_llm() as fake: ...`.

Modes (what POST /v1/chat/completions answers):
  ok         200 JSON with `answer` (which cites [1]); SSE like "stream" if the request asked to stream
  slow       sleeps `slow_seconds` (woken early when the server stops), then answers as "ok"
  error      `status` (500) with an OpenAI-style error body
  malformed  200, Content-Type application/json, body not JSON
  no_choices 200 JSON without "choices"
  empty      200 JSON whose message content is ""
  stream     200 SSE: a role chunk, one chunk per item of `chunks`, a finish chunk, then [DONE];
             `stream_events` replaces those data payloads verbatim (to send garbage or omit [DONE])
`delay` is slept before every answer and `chunk_delay` between SSE events, so calls can overlap.
The server is HTTP/1.1 with keep-alive (chunked SSE), as real servers are.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

from backend.devstack.processes import free_port

Mode = Literal["ok", "slow", "error", "malformed", "no_choices", "empty", "stream"]

DEFAULT_ANSWER = "Rest, fluids and paracetamol relieve most tension headaches [1]."
DEFAULT_CHUNKS = ("Rest ", "and fluids ", "help [1].")


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = self.body.get("messages", [])
        return messages


@dataclass
class FakeLLM:
    port: int
    mode: Mode = "ok"
    answer: str = DEFAULT_ANSWER
    chunks: list[str] = field(default_factory=lambda: list(DEFAULT_CHUNKS))
    stream_events: list[str] | None = None
    status: int = 500
    delay: float = 0.0
    chunk_delay: float = 0.0
    slow_seconds: float = 30.0
    requests: list[RecordedRequest] = field(default_factory=list)
    max_in_flight: int = 0
    in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def url(self) -> str:
        """The base URL a client is configured with (it includes /v1, as LLM_BASE_URL does)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def reset(self) -> None:
        """Back to answering "ok" at once, with nothing recorded."""
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0
        self.mode, self.answer, self.chunks, self.stream_events = (
            "ok",
            DEFAULT_ANSWER,
            list(DEFAULT_CHUNKS),
            None,
        )
        self.status, self.delay, self.chunk_delay, self.slow_seconds = 500, 0.0, 0.0, 30.0

    def _enter(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sleep(self, seconds: float) -> None:
        # Interruptible, so stopping the server never waits for a "slow" answer.
        if seconds > 0:
            self._stopping.wait(seconds)


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }


def _chunk(delta: dict[str, str], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [choice]})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self.path.endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"unparsable": raw.decode(errors="replace")}
        fake._enter(RecordedRequest(self.path, dict(self.headers.items()), body))
        try:
            self._answer(fake, wants_stream=bool(body.get("stream")))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timed out): nothing to answer
        finally:
            fake._leave()

    def _answer(self, fake: FakeLLM, wants_stream: bool) -> None:
        mode = fake.mode
        fake._sleep(fake.delay)
        if mode == "slow":
            fake._sleep(fake.slow_seconds)
            mode = "ok"
        if mode == "error":
            self._send(fake.status, b'{"error": {"message": "fake failure", "type": "server_error"}}')
        elif mode == "malformed":
            self._send(200, b"<html>this is not json</html>")
        elif mode == "no_choices":
            self._send(200, b'{"id": "chatcmpl-fake", "object": "chat.completion"}')
        elif mode == "empty":
            self._send(200, json.dumps(_completion("")).encode())
        elif mode == "stream" or wants_stream:
            self._stream(fake)
        else:
            self._send(200, json.dumps(_completion(fake.answer)).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, fake: FakeLLM) -> None:
        events = fake.stream_events
        if events is None:
            events = [
                _chunk({"role": "assistant"}),
                *(_chunk({"content": piece}) for piece in fake.chunks),
                _chunk({}, finish="stop"),
                "[DONE]",
            ]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, data in enumerate(events):
            if index:
                fake._sleep(fake.chunk_delay)
            payload = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: under load tests' bursts of new connections the kernel
    # would reset them, which no real model server does.
    request_queue_size = 1024
    fake: FakeLLM


@contextmanager
def running_fake_llm() -> Iterator[FakeLLM]:
    """A started fake server; stopped, and any sleeping handler woken, on exit."""
    fake = FakeLLM(port=free_port())
    server = _Server(("127.0.0.1", fake.port), _Handler)
    server.fake = fake
    # The socket listens from here on, so clients may connect before the thread runs.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fresh fake OpenAI-compatible server for one test (see the module docstring)."""
    with running_fake_llm() as fake:
        yield fake
