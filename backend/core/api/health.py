"""Liveness, readiness and the Prometheus endpoint: identical on both services."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from backend.core.errors import AppError, error_body, request_id_of
from backend.core.metrics import READY, render_metrics

ReadinessCheck = Callable[[], Awaitable[object]]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the worker's event loop answers (no dependency calls)")
async def healthz(request: Request) -> dict[str, object]:
    return {"status": "ok", "service": request.app.state.service, "pid": os.getpid()}


@router.get(
    "/readyz",
    summary="Readiness: dependencies answer and the worker is not draining",
    responses={503: {"description": "Not ready; the body names what failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, str] = {}
    if state.draining:
        checks["shutdown"] = "draining"
    timeout: float = state.settings.ready_timeout
    required: dict[str, ReadinessCheck] = state.readiness_checks
    optional: dict[str, ReadinessCheck] = getattr(state, "degraded_checks", {})
    checks_to_run = {**required, **optional}
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), timeout) for check in checks_to_run.values()),
        return_exceptions=True,
    )
    for name, result in zip(checks_to_run, results, strict=True):
        if isinstance(result, BaseException):
            reason = "timeout" if isinstance(result, TimeoutError) else type(result).__name__
            checks[name] = f"failed: {reason}"
        else:
            checks[name] = "ok"
    failed = {name: value for name, value in checks.items() if value != "ok" and name not in optional}
    READY.labels(state.service).set(0 if failed else 1)
    if failed:
        message = "Not ready: " + ", ".join(f"{n} {v}" for n, v in failed.items())
        body = error_body("not_ready", message, request_id_of(request), checks=checks)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    # A failed optional check keeps the worker in rotation (questions still answer) but says so.
    status = "degraded" if any(checks[name] != "ok" for name in optional) else "ready"
    return JSONResponse({"status": status, "service": state.service, "checks": checks})


def _may_scrape(request: Request) -> bool:
    settings = request.app.state.settings
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        address = None
    if address is not None and any(address in network for network in settings.metrics_allow_ips):
        return True
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.encode(), expected.encode())
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _may_scrape(request):
        # 404, not 403: to anyone else there is nothing here.
        raise AppError(404, "Not found.")
    request.app.state.observe_pool()
    # Reading every worker's files is disk I/O: keep it off the event loop.
    body, content_type = await asyncio.to_thread(render_metrics)
    return Response(body, media_type=content_type)
