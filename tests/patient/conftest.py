"""The patient service in-process, on a temporary knowledge directory, against the real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.patient.app import create_patient_app

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = Settings.model_validate(
            {
                "data_dir": tmp_path,
                "redis_url": os.environ["REDIS_URL"],
                "redis_key_prefix": f"{os.environ['REDIS_KEY_PREFIX']}{uuid.uuid4().hex[:6]}:",
                "rate_limit_health": "1000/minute",
                **overrides,
            }
        )
        client = TestClient(create_patient_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
