"""Load shedding by requests in flight, the outermost ASGI layer of both services.

Uvicorn's limit_concurrency (MAX_CONNECTIONS) counts open connections, idle keep-alive ones
included, so a crowd of patients thinking between two messages would be refused while the worker
sits idle. MAX_CONNECTIONS is therefore set high (it only bounds sockets and memory) and the bound
that tracks work is here: at most MAX_IN_FLIGHT requests per worker are being served; the next one
gets the JSON 503 with Retry-After at once, and its connection stays open for the retry.

Liveness and metrics are never shed: an overloaded worker is alive, and its numbers matter most then.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.core.errors import error_body
from backend.core.metrics import HTTP_SHED

NEVER_SHED = frozenset({"/healthz", "/metrics"})


class InFlightLimit:
    def __init__(self, app: ASGIApp, *, service: str, limit: int, retry_after: int) -> None:
        self.app = app
        self.service = service
        self.limit = limit
        self.in_flight = 0
        body = orjson.dumps(error_body("overloaded", "The service is at capacity; retry shortly.", None))
        self._body = body
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            HTTP_SHED.labels(self.service).inc()
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body, "more_body": False})
            return
        # One event loop per worker: the counter needs no lock.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
