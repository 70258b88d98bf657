"""The request envelope every route shares: request id, body limit, metrics, one access-log line.

Written as plain ASGI rather than BaseHTTPMiddleware: it runs on every request, so it must not
buffer bodies or add a task per request.
"""

from __future__ import annotations

import re
import secrets
import time

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import error_body
from backend.core.logging import get_logger
from backend.core.metrics import HTTP_DURATION, HTTP_IN_PROGRESS, HTTP_REQUESTS

log = get_logger("access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# On every API response: the APIs serve JSON only, so nothing they return may run script, be framed
# or be sniffed as another type. The interactive docs page loads its own script and styles.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"img-src 'self' data: https://fastapi.tiangolo.com; "
    b"frame-ancestors 'none'",
)
_DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
# The request state's list of headers an inner layer wants on the response if it succeeds (< 400):
# the guard's X-RateLimit-*.
SUCCESS_HEADERS = "success_headers"


class RequestEnvelopeMiddleware:
    def __init__(self, app: ASGIApp, *, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter()
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        limit = self.max_body_bytes

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_error(send, 413, "payload_too_large", _too_large(limit), request_id)
            self._record(scope, 413, start, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read, so it becomes the usual JSON error.
                    raise HTTPException(413, _too_large(limit))
            return message

        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                csp = _DOCS_CSP if scope.get("path") in _DOCS_PATHS else _API_CSP
                headers = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    *SECURITY_HEADERS,
                    csp,
                ]
                if status < 400 and SUCCESS_HEADERS in state:
                    headers += state[SUCCESS_HEADERS]
                if _draining(scope):
                    # Tell keep-alive clients to reconnect elsewhere before this worker closes
                    # their connection, so no request races the close.
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        in_progress = HTTP_IN_PROGRESS.labels(self.service)
        in_progress.inc()
        try:
            await self.app(scope, limited_receive, send_with_id)
        except Exception:
            # Handled here rather than by Starlette's outermost handler, so the 500 still carries
            # the request id header. The trace goes to the log, never to the client.
            status = 500
            log.exception("unhandled error", extra={"request_id": request_id, "route": _route(scope)})
            if not response_started:
                await _send_error(send, 500, "internal_error", "Internal server error.", request_id)
        finally:
            in_progress.dec()
            self._record(scope, status, start, request_id)

    def _record(self, scope: Scope, status: int, start: float, request_id: str) -> None:
        elapsed = time.perf_counter() - start
        route = _route(scope)
        method = scope["method"]
        HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
        HTTP_DURATION.labels(self.service, method, route).observe(elapsed)
        # Route template, never the raw path or query: those can carry patient text or ids.
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


def _draining(scope: Scope) -> bool:
    app = scope.get("app")
    return bool(getattr(getattr(app, "state", None), "draining", False))


def _route(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", "<unmatched>")


def _too_large(limit: int) -> str:
    return f"The request body exceeds {limit} bytes."


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return str(candidate)
            break
    return secrets.token_hex(16)  # as random as uuid4().hex, without building a UUID per request


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    body = orjson.dumps(error_body(code, message, request_id))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
                _API_CSP,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
