"""Serves one web UI and proxies its /api/ calls to the service, as nginx does in production.

python -m backend.devstack.ui_server --ui doctor --port 3000 --api http://127.0.0.1:8000

The proxy streams in both directions that matter: the response is relayed as it arrives, so the
server-sent events of POST /api/v1/medical/qa/stream reach the browser one by one. The UI's own files
(frontend/<ui>/) are served at /, and the modules and styles both UIs share (frontend/common/) at
/common/, as nginx does. The UI files get the same security headers as in deploy/nginx/nginx.conf
(a strict same-origin CSP, no framing, no sniffing, no referrer); API responses keep the headers the
service set.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.config import PROJECT_ROOT
from backend.core.errors import error_body
from backend.core.middleware import SECURITY_HEADERS

FRONTEND = PROJECT_ROOT / "frontend"
# What both UIs load, served to each at /common/ (deploy/nginx/nginx.conf: location /common/).
COMMON = FRONTEND / "common"
# Hop-by-hop headers belong to one connection and must not be forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host"}

# Everything the pages load comes from their own origin: no inline script or style, no CDN, no
# frames. Keep in step with the UI locations of deploy/nginx/nginx.conf.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
UI_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    *SECURITY_HEADERS,  # nosniff, no-referrer, DENY framing: the services' own
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    # Revalidate on every load, so a new release is picked up at once (nginx: expires -1).
    (b"cache-control", b"no-cache"),
]


class UIHeaders:
    """Adds UI_HEADERS to every response of the wrapped app, replacing any of the same name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._names = {name for name, _ in UI_HEADERS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message["headers"] = [*kept, *UI_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_ui_app(ui: str, api_base: str) -> Starlette:
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal client
        # No read timeout: a streamed answer may pause between events; the service bounds its work.
        client = httpx.AsyncClient(base_url=api_base, timeout=httpx.Timeout(60.0, connect=5.0, read=None))
        yield
        await client.aclose()

    async def proxy(request: Request) -> Response:
        assert client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {peer}" if forwarded else peer
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=await request.body(),
        )
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx.HTTPError:
            body = error_body("unavailable", "The service is not reachable.", None)
            return JSONResponse(body, status_code=502)
        response_headers = {
            k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-length"}
        }

        async def relay() -> AsyncIterator[bytes]:
            # Raw bytes, as sent: any Content-Encoding stays valid. Closed however the relay ends
            # (finished, upstream failed, or the browser went away).
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        return StreamingResponse(
            relay(),
            status_code=upstream.status_code,
            headers=response_headers,
            background=BackgroundTask(upstream.aclose),
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/api/{path:path}", proxy, methods=methods),
            # Before the UI's own mount, which would otherwise answer /common/... (with a 404).
            Mount("/common", UIHeaders(StaticFiles(directory=COMMON))),
            Mount("/", UIHeaders(StaticFiles(directory=FRONTEND / ui, html=True))),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui", choices=["doctor", "patient"], required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api", required=True, help="base URL of the service, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    uvicorn.run(create_ui_app(args.ui, args.api), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
