"""The one factory both services are built with, so their envelope is identical."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backend.core.api import health, system
from backend.core.config import Settings, get_settings
from backend.core.errors import install_error_handlers
from backend.core.guard import Guard, RouteTable, SignIn, document_sign_in
from backend.core.logging import configure_logging, get_logger
from backend.core.metrics import REDIS_ERRORS, REDIS_POOL_CONNECTIONS, REDIS_POOL_MAX
from backend.core.middleware import RequestEnvelopeMiddleware
from backend.core.ratelimit import RateLimiter
from backend.core.redis import create_redis, pool_usage
from backend.core.routing import add_routes, install_dispatch
from backend.core.shedding import InFlightLimit
from backend.core.shutdown import install_drain_handler

# A service's own start-up/shut-down work (loading indexes...), run inside the core lifespan.
ServiceLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

POOL_OBSERVE_SECONDS = 5.0

log = get_logger("app")


def create_app(
    service: str,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    lifespans: Sequence[ServiceLifespan] = (),
    settings: Settings | None = None,
    sign_in: SignIn | None = None,
    public_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """`sign_in` guards every /api route except those of `public_routers` (see backend/core/guard.py)."""
    settings = settings or get_settings()
    configure_logging(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything stateful is made here, in the worker after gunicorn forked, never at import.
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(settings.thread_pool_size, thread_name_prefix=f"{service}-blocking")
        loop.set_default_executor(executor)
        redis = create_redis(settings)
        app.state.redis = redis
        app.state.limiter = RateLimiter(redis, settings, service)
        app.state.draining = False
        app.state.readiness_checks = {"redis": redis.ping}
        # Checks whose failure leaves the worker serving (questions need no database): "degraded".
        app.state.degraded_checks = {}

        def observe_pool() -> None:
            in_use, idle = pool_usage(redis)
            REDIS_POOL_CONNECTIONS.labels(service, "in_use").set(in_use)
            REDIS_POOL_CONNECTIONS.labels(service, "idle").set(idle)

        app.state.observe_pool = observe_pool
        REDIS_POOL_MAX.labels(service).set(settings.redis_max_connections)
        observer = asyncio.create_task(_every(POOL_OBSERVE_SECONDS, observe_pool))
        install_drain_handler(app, settings.drain_seconds)
        try:
            async with AsyncExitStack() as stack:
                for service_lifespan in lifespans:
                    await stack.enter_async_context(service_lifespan(app))
                log.info(
                    "worker ready",
                    extra={
                        "service": service,
                        "since_fork_s": _seconds_since_fork(),
                        # CPU spent since the fork: the start's cost where cores are shared.
                        "cpu_s": round(time.process_time(), 2),
                    },
                )
                yield
        finally:
            observer.cancel()
            try:
                await redis.aclose()
            except Exception:  # closing a dead connection must not stop the shutdown
                REDIS_ERRORS.labels(service, "close").inc()
            executor.shutdown(wait=True, cancel_futures=True)
            log.info("worker stopped", extra={"service": service})

    docs = settings.docs_enabled
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.service = service
    app.state.settings = settings
    install_error_handlers(app)
    # Innermost: its refusals get CORS headers, the request id and the access-log line like any answer.
    table = RouteTable()
    app.add_middleware(Guard, table=table, sign_in=sign_in, service=service)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE", "PUT", "PATCH"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=[
            "X-Request-ID",
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
    )
    # Added last so it is outermost: it sees every response, CORS preflights included.
    app.add_middleware(RequestEnvelopeMiddleware, service=service, max_body_bytes=settings.max_body_bytes)
    # Outside even the envelope: a shed request costs no parsing, logging or request id.
    retry_after = settings.overload_retry_after
    app.add_middleware(InFlightLimit, service=service, limit=settings.max_in_flight, retry_after=retry_after)
    # The guard's table lists the routes in the router's order, so it finds the route the router picks.
    add_routes(app, health.router, api=False)
    table.add(health.router, signed_in=False)
    for router in (system.router, *routers):
        add_routes(app, router)
        table.add(router, signed_in=sign_in is not None)
    for router in public_routers:
        add_routes(app, router)
        table.add(router, signed_in=False)
    install_dispatch(app)
    if sign_in is not None:
        document_sign_in(app, table.guarded_routes(), sign_in.scheme)
    return app


async def _every(seconds: float, action: Callable[[], None]) -> None:
    while True:
        action()
        await asyncio.sleep(seconds)


def _seconds_since_fork() -> float | None:
    """Seconds since this process began (for a gunicorn worker, its fork): what recycling costs."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            # Field 22, counted after the parenthesised command name, which may hold spaces.
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            return round(float(uptime.read().split()[0]) - started, 2)
    except (OSError, ValueError, IndexError):  # not Linux
        return None
