"""The doctor service in-process, on a temporary knowledge directory, against the real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.doctor.app import create_doctor_app
from tests.support.auth import TEST_AUTH, admin_headers
from tests.support.clients import MakeClient, client_maker
from tests.support.database import TestDatabases


@pytest.fixture
def make_client(tmp_path: Path, test_databases: TestDatabases) -> Iterator[MakeClient]:
    """make(signed_in=True, **settings): a started client, by default signed in as the first admin."""
    with client_maker(
        create_doctor_app, tmp_path, test_databases.fresh, rate_limit_qa="1000/minute", **TEST_AUTH
    ) as make:

        def make_doctor_client(signed_in: bool = True, **overrides: object) -> TestClient:
            client = make(**overrides)
            if signed_in:
                client.headers.update(admin_headers(client))
            return client

        yield make_doctor_client


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
