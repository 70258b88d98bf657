"""A minimal keep-alive HTTP/1.1 client on asyncio streams: thousands of connections cost little."""

from __future__ import annotations

import asyncio
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


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str, recorder: Recorder, limit_seconds: float = 10.0) -> int:
        started = time.monotonic()
        try:
            status = await asyncio.wait_for(self._exchange(path), limit_seconds)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
            self.close()
        recorder.samples.append(Sample(started, time.monotonic() - started, status))
        return status

    async def _exchange(self, path: str) -> int:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        length = 0
        closing = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                closing = True
        await self.reader.readexactly(length)
        if closing:
            self.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
