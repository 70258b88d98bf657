"""MAX_IN_FLIGHT sheds by requests being served, not by idle keep-alive connections."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from tests.conftest import StartService

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open_idle(host: str, port: int, count: int) -> list[Connection]:
    return [await asyncio.open_connection(host, port) for _ in range(count)]


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> int:
    writer.write(f"GET /api/v1/test/slow?seconds=0 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1])


def test_idle_connections_are_not_load_and_busy_work_is_shed_with_503(start_service: StartService) -> None:
    service = start_service(
        WORKERS="1", MAX_IN_FLIGHT="3", MAX_CONNECTIONS="500", KEEPALIVE="60", RATE_LIMIT_ENABLED="false"
    )
    parts = urlsplit(service.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def scenario() -> tuple[list[int], list[httpx.Response]]:
        # 200 open keep-alive connections, far more than MAX_IN_FLIGHT, asking one at a time while
        # the rest sit idle: none is refused.
        idle = await _open_idle(host, port, 200)
        first = [await _ask(r, w, host) for r, w in idle]
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            busy = await asyncio.gather(
                *(client.get("/api/v1/test/slow", params={"seconds": 1.5}) for _ in range(10))
            )
        # The idle connections were kept through the overload and still answer.
        second = [await _ask(r, w, host) for r, w in idle]
        for _, writer in idle:
            writer.close()
        return first + second, busy

    statuses, busy = asyncio.run(scenario())
    assert statuses == [200] * 400
    codes = sorted(response.status_code for response in busy)
    assert codes.count(200) == 3
    assert codes.count(503) == 7
    shed = next(response for response in busy if response.status_code == 503)
    assert shed.json()["error"]["code"] == "overloaded"
    assert shed.headers["retry-after"] == "1"
    assert service.metric("medqa_http_requests_shed_total") == 7
