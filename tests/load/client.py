"""A minimal keep-alive HTTP/1.1 client on asyncio streams: thousands of connections cost little."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field


@dataclass
class Sample:
    started: float  # monotonic
    seconds: float
    status: int  # 0: the connection failed or timed out


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # fault name -> monotonic time

    def errors(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.status == 0 or sample.status >= 500]

    def percentile(self, q: float) -> float:
        ordered = sorted(sample.seconds for sample in self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Reply:
    status: int  # 0: the connection failed or timed out
    headers: dict[str, str]  # lower-case names
    body: bytes


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str, recorder: Recorder, limit_seconds: float = 10.0) -> int:
        return (await self.request("GET", path, recorder, limit_seconds=limit_seconds)).status

    async def request(
        self,
        method: str,
        path: str,
        recorder: Recorder,
        *,
        json_body: bytes = b"",
        headers: dict[str, str] | None = None,
        limit_seconds: float = 10.0,
    ) -> Reply:
        """One exchange; a failed or timed-out one is Reply(status=0), and is recorded like the rest."""
        started = time.monotonic()
        try:
            reply = await asyncio.wait_for(
                self._exchange(method, path, json_body, headers or {}), limit_seconds
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            reply = Reply(0, {}, b"")
            self.close()
        recorder.samples.append(Sample(started, time.monotonic() - started, reply.status))
        return reply

    async def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        received: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            received[name.strip().lower()] = value.strip()
        content = await self.reader.readexactly(int(received.get("content-length", "0")))
        if received.get("connection", "").lower() == "close":
            self.close()
        return Reply(int(status_line.split()[1]), received, content)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


PATIENT_MESSAGES = ("头痛", "三天了", "有点发烧", "没有")


async def converse(
    connection: Connection, session: dict[str, str], recorder: Recorder, rng: random.Random
) -> None:
    """One step of a patient's pre-consultation: open a session first, then send one message."""
    if not session:
        reply = await connection.request("POST", "/api/v1/sessions", recorder, json_body=b"{}")
        if reply.status == 201:
            session.update(json.loads(reply.body))
        return
    await connection.request(
        "POST", f"/api/v1/sessions/{session['session_id']}/messages", recorder,
        headers={"Authorization": f"Bearer {session['token']}"},
        json_body=json.dumps({"text": rng.choice(PATIENT_MESSAGES)}).encode(),
    )  # fmt: skip
