"""Serves one web UI and proxies its /api/ calls to the service, as nginx does in production.

python -m backend.devstack.ui_server --ui doctor --port 3000 --api http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from backend.core.config import PROJECT_ROOT
from backend.core.errors import error_body

FRONTEND = PROJECT_ROOT / "frontend"
# Hop-by-hop headers belong to one connection and must not be forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host"}


def create_ui_app(ui: str, api_base: str) -> Starlette:
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal client
        client = httpx.AsyncClient(base_url=api_base, timeout=60.0)
        yield
        await client.aclose()

    async def proxy(request: Request) -> Response:
        assert client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {peer}" if forwarded else peer
        try:
            upstream = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError:
            body = error_body("unavailable", "The service is not reachable.", None)
            return JSONResponse(body, status_code=502)
        response_headers = {
            k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-length"}
        }
        return Response(upstream.content, status_code=upstream.status_code, headers=response_headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/api/{path:path}", proxy, methods=methods),
            Mount("/", StaticFiles(directory=FRONTEND / ui, html=True)),
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
