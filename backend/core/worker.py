"""The gunicorn worker class: uvicorn's, with MAX_CONNECTIONS really bounding each worker, and
MAX_REQUESTS recycling that hands over to a replacement before it stops (backend/core/handover.py).

UvicornWorker ignores gunicorn's worker_connections, so the bound goes to uvicorn as
limit_concurrency. Uvicorn's own overload answer is a bare text 503; ours is the JSON error
shape with Retry-After, so clients and load balancers know to come back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import Any

import orjson
from gunicorn.arbiter import Arbiter
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http import h11_impl, httptools_impl
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from backend.core import handover
from backend.core.config import get_settings
from backend.core.errors import error_body


def _service_of(app_uri: str) -> str:
    # "backend.doctor.app:app" -> "doctor"
    module = app_uri.split(":", 1)[0].split(".")
    return module[1] if len(module) > 2 else module[0]


def _overload_app(service: str, retry_after: int) -> Any:
    body = orjson.dumps(error_body("overloaded", "The service is at capacity; retry shortly.", None))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
        (b"connection", b"close"),
    ]

    async def overloaded(scope: Scope, receive: Receive, send: Send) -> None:
        from backend.core.metrics import HTTP_SHED  # after the fork, like every metric

        HTTP_SHED.labels(service).inc()
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return overloaded


class RecyclingServer(Server):
    """Uvicorn's server, recycled after `recycle_after` requests by a handover, not a plain exit."""

    def __init__(self, config: Config, recycle_after: int | None, master: int) -> None:
        super().__init__(config)
        self._recycle_after = recycle_after
        self._master = master
        self._retiring: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        folder = handover.directory()
        if folder is not None and self.started:
            # Listening now: a worker waiting for its replacement may stop.
            await asyncio.to_thread(handover.take, folder)

    async def on_tick(self, counter: int) -> bool:
        limit = self._recycle_after
        if limit is not None and self._retiring is None and self.server_state.total_requests >= limit:
            self._retiring = asyncio.create_task(self._retire(limit))
        return await super().on_tick(counter)

    async def _retire(self, limit: int) -> None:
        logging.getLogger("uvicorn.error").info("Maximum request limit of %d reached; handing over.", limit)
        folder = handover.directory()
        if folder is not None:
            await handover.retire(folder, os.getpid(), self._master)
        self.should_exit = True


class MedQAWorker(UvicornWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        self.CONFIG_KWARGS = {
            **UvicornWorker.CONFIG_KWARGS,
            "limit_concurrency": settings.max_connections,
            # No route speaks WebSocket; uvicorn would import a WebSocket stack in every new worker.
            "ws": "none",
            "timeout_graceful_shutdown": settings.graceful_timeout,
        }
        super().__init__(*args, **kwargs)
        overloaded = _overload_app(_service_of(self.cfg.wsgi_app or ""), settings.overload_retry_after)
        # Both HTTP protocol modules look the 503 app up as a module global at request time.
        h11_impl.service_unavailable = overloaded  # type: ignore[attr-defined]
        httptools_impl.service_unavailable = overloaded  # type: ignore[attr-defined]

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        # Uvicorn's own limit would exit at once; the server counts requests itself and hands over.
        recycle_after, self.config.limit_max_requests = self.config.limit_max_requests, None
        if recycle_after is not None and recycle_after >= sys.maxsize:  # MAX_REQUESTS=0: never
            recycle_after = None
        server = RecyclingServer(self.config, recycle_after, self.ppid)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def run(self) -> None:
        super().run()
        # Served and shut down: the lifespan has closed every resource. Tearing the interpreter down
        # would free the heap object by object (~80 ms of CPU with MedQuAD, against 8 ms for this),
        # and the master starts no replacement until this process is gone.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
