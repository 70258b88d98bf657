"""The load suite's sizes: LOAD_PROFILE=short (CI, every `make test`) or full (`make load`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    connections: int  # keep-alive connections held at once
    hold_seconds: float  # how long they are held
    max_think: float  # think time between a connection's requests, drawn from [1, max_think]
    steady_clients: int  # clients of the fault tests, each asking back to back


PROFILES = {
    "short": Profile("short", connections=400, hold_seconds=8, max_think=4, steady_clients=20),
    "full": Profile("full", connections=4000, hold_seconds=60, max_think=30, steady_clients=100),
    # make soak: only test_soak runs; its length is SOAK_SECONDS.
    "soak": Profile("soak", connections=400, hold_seconds=8, max_think=4, steady_clients=20),
}


def current() -> Profile:
    return PROFILES[os.environ.get("LOAD_PROFILE", "short")]
