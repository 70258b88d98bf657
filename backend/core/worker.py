"""The gunicorn worker class: uvicorn's, with MAX_CONNECTIONS really bounding each worker.

UvicornWorker ignores gunicorn's worker_connections, so the bound goes to uvicorn as
limit_concurrency. Uvicorn's own overload answer is a bare text 503; ours is the JSON error
shape with Retry-After, so clients and load balancers know to come back.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http import h11_impl, httptools_impl
from uvicorn_worker import UvicornWorker

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


class MedQAWorker(UvicornWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        self.CONFIG_KWARGS = {
            **UvicornWorker.CONFIG_KWARGS,
            "limit_concurrency": settings.max_connections,
            "timeout_graceful_shutdown": settings.graceful_timeout,
        }
        super().__init__(*args, **kwargs)
        overloaded = _overload_app(_service_of(self.cfg.wsgi_app or ""), settings.overload_retry_after)
        # Both HTTP protocol modules look the 503 app up as a module global at request time.
        h11_impl.service_unavailable = overloaded  # type: ignore[attr-defined]
        httptools_impl.service_unavailable = overloaded  # type: ignore[attr-defined]
