"""The patient service in-process, on a temporary knowledge directory, against the real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.patient.app import create_patient_app
from tests.support.clients import MakeClient, client_maker
from tests.support.database import TestDatabases


@pytest.fixture
def make_client(tmp_path: Path, test_databases: TestDatabases) -> Iterator[MakeClient]:
    with client_maker(
        create_patient_app, tmp_path, test_databases.fresh, rate_limit_health="1000/minute"
    ) as make:
        yield make


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
