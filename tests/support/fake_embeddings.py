"""A fake OpenAI-compatible /v1/embeddings server: real HTTP on 127.0.0.1, in a background thread.

    from tests.support.fake_embeddings import FakeEmbeddings, fake_embeddings  # noqa: F401

Vectors are deterministic and meaningful enough to test fusion: each text is embedded by which of
`concepts` (lists of words) it mentions, one dimension per concept, so "heart attack" and
"myocardial infarction" can be made neighbours although they share no term. A text mentioning
none gets the last dimension.

Modes (what POST /v1/embeddings answers):
  ok       200 with one embedding per input, in order
  slow     sleeps `slow_seconds` before answering as "ok" (a timeout for the client)
  error    500 with an OpenAI-style error body
  garbage  200 JSON whose "data" holds strings instead of vectors
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

Mode = Literal["ok", "slow", "error", "garbage"]


@dataclass
class FakeEmbeddings:
    port: int
    concepts: list[list[str]] = field(default_factory=list)
    mode: Mode = "ok"
    slow_seconds: float = 5.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def vector(self, text: str) -> list[float]:
        lowered = text.lower()
        values = [1.0 if any(word in lowered for word in words) else 0.0 for words in self.concepts]
        return [*values, 0.0 if any(values) else 1.0]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        fake = self.server.fake
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        fake.requests.append(body)
        if fake.mode == "slow":
            fake._stopping.wait(fake.slow_seconds)
        if fake.mode == "error":
            self._send(500, {"error": {"message": "model crashed", "type": "server_error"}})
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if fake.mode == "garbage":
            self._send(200, {"data": [{"index": i, "embedding": "nope"} for i in range(len(inputs))]})
            return
        data = [
            {"object": "embedding", "index": i, "embedding": fake.vector(text)}
            for i, text in enumerate(inputs)
        ]
        self._send(200, {"object": "list", "data": data, "model": body.get("model", "")})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: under load tests' bursts of new connections the kernel
    # would reset them, which no real model server does.
    request_queue_size = 1024
    fake: FakeEmbeddings


@contextmanager
def running_fake_embeddings() -> Iterator[FakeEmbeddings]:
    port = free_port()
    server = _Server(("127.0.0.1", port), _Handler)
    server.fake = FakeEmbeddings(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.fake
    finally:
        server.fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def fake_embeddings() -> Iterator[FakeEmbeddings]:
    with running_fake_embeddings() as fake:
        yield fake
