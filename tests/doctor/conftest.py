"""The doctor service in-process, on a temporary knowledge directory, against the real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.doctor.app import create_doctor_app
from tests.support.clients import MakeClient, client_maker


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[MakeClient]:
    with client_maker(create_doctor_app, tmp_path, rate_limit_qa="1000/minute") as make:
        yield make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
