"""The load suite's shared pieces: the profile, and the report written once the session ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.devstack.processes import wait_http
from tests.conftest import Service, _wait_all_workers
from tests.load import report
from tests.load.client import Recorder
from tests.load.profile import Profile, current


class Figures:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.series: dict[str, dict[str, list[float]]] = {}

    def record(self, name: str, recorder: Recorder, **figures: Any) -> None:
        self.results[name] = {
            "requests": len(recorder.samples),
            "errors": len(recorder.errors()),
            "p50_s": round(recorder.percentile(0.5), 4),
            "p99_s": round(recorder.percentile(0.99), 4),
            **figures,
        }
        self.series[name] = report.per_second(recorder)


def wait_started(service: Service, workers: int) -> None:
    """For a service started with wait=False (several start at once): until all its workers are ready."""
    wait_http(f"{service.url}/healthz", timeout=60)
    _wait_all_workers(service, workers)


@pytest.fixture(scope="session")
def profile() -> Profile:
    return current()


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    if collected.results:
        report.write(collected.results, collected.series)
