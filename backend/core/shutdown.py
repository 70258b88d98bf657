"""Draining on SIGTERM: readiness turns 503 first, then the worker stops accepting.

Uvicorn stops accepting as soon as it sees SIGTERM. A load balancer that polls /readyz needs a
moment to notice, so the handler marks the app draining, keeps serving for DRAIN_SECONDS, and
only then passes the signal on to uvicorn, which lets in-flight requests finish.
"""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

from fastapi import FastAPI

from backend.core.logging import get_logger

log = get_logger("shutdown")


def install_drain_handler(app: FastAPI, drain_seconds: float) -> None:
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        return  # not under a server that handles SIGTERM (e.g. the test client)
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if app.state.draining:
            server_handler(signum, frame)  # a second SIGTERM means now
            return
        app.state.draining = True
        log.info("draining", extra={"drain_seconds": drain_seconds})
        loop.call_soon_threadsafe(loop.call_later, drain_seconds, server_handler, signum, None)

    signal.signal(signal.SIGTERM, on_sigterm)
