"""The load suite's shared pieces: the profile, and the report written once the session ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def profile() -> Profile:
    return current()


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    if collected.results:
        report.write(collected.results, collected.series)
