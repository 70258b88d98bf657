"""schemathesis against both services' OpenAPI schemas, under gunicorn: no 5xx, every response as documented.

Generated requests (valid and invalid) go to real workers; the doctor service is called as its
first admin, so every route is reached past the sign-in. A few hundred requests per service.

Left out: schemathesis' "schema-valid data is accepted" check. Our text rules are stricter than JSON
Schema can say (an unpaired surrogate is schema-valid yet no encoder can store it), so such input
rightly gets a documented 422; every other default check runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from backend.devstack.processes import free_port, start_gunicorn, stop, wait_http
from tests.support.auth import TEST_AUTH_ENV, service_admin_headers
from tests.support.database import TestDatabases

MAX_EXAMPLES = 20


def _serve(app: str, tmp: Path, database_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        "DATA_DIR": str(tmp / "data"),
        "DATABASE_URL": database_url,
        "WORKERS": "2",
        "REDIS_KEY_PREFIX": f"{os.environ['REDIS_KEY_PREFIX']}schema-{port}:",
        "RATE_LIMIT_DEFAULT": "100000/minute",
        "RATE_LIMIT_QA": "100000/minute",
        "RATE_LIMIT_HEALTH": "100000/minute",
        "LOG_LEVEL": "WARNING",
        **TEST_AUTH_ENV,
    }
    process = start_gunicorn(app, port, env=env, log_path=tmp / "gunicorn.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/readyz", timeout=60)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def doctor_url(tmp_path_factory: pytest.TempPathFactory, test_databases: TestDatabases) -> Iterator[str]:
    yield from _serve("backend.doctor.app:app", tmp_path_factory.mktemp("doctor"), test_databases.fresh())


@pytest.fixture(scope="module")
def patient_url(tmp_path_factory: pytest.TempPathFactory, test_databases: TestDatabases) -> Iterator[str]:
    yield from _serve("backend.patient.app:app", tmp_path_factory.mktemp("patient"), test_databases.fresh())


@pytest.fixture(scope="module")
def doctor_schema(doctor_url: str) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{doctor_url}/openapi.json")


@pytest.fixture(scope="module")
def patient_schema(patient_url: str) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{patient_url}/openapi.json")


@pytest.fixture(scope="module")
def admin_headers(doctor_url: str) -> dict[str, str]:
    return service_admin_headers(doctor_url)


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def _check_every_operation(schema: OpenApiSchema, headers: dict[str, str]) -> int:
    """Run the checks on every operation; the number of operations checked."""
    failures, checked = [], 0
    for found in schema.get_all_operations():
        checked += 1
        operation = found.ok()  # type: ignore[union-attr]  # an invalid schema fails loudly here

        @given(case=operation.as_strategy())
        @SETTINGS
        def conforms(case: Case[Any]) -> None:
            case.call_and_validate(headers=headers, timeout=30, excluded_checks=[positive_data_acceptance])

        try:
            conforms()
        except Exception as exc:  # one report listing every failing operation
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    return checked


def test_doctor_service_conforms_to_its_schema(
    doctor_schema: OpenApiSchema, admin_headers: dict[str, str]
) -> None:
    assert _check_every_operation(doctor_schema, admin_headers) >= 25


def test_patient_service_conforms_to_its_schema(patient_schema: OpenApiSchema) -> None:
    assert _check_every_operation(patient_schema, {}) >= 9
