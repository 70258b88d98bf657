"""One service under the real gunicorn master for a benchmark: steady state, limits out of the way."""

from __future__ import annotations

import atexit
import os
import subprocess
from pathlib import Path

import httpx

from backend.devstack.processes import free_port, start_gunicorn, wait_http
from tests.support.database import TestDatabases

BENCH_ADMIN = ("bench-admin", "bench-admin-password")
# The server whose maintenance database creates the benchmark's own (dropped when it ends).
ADMIN_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_databases: list[TestDatabases] = []
_database_url: list[str] = []


def bench_database() -> str:
    """One migrated database for this benchmark run: the services' system of record, never the
    developer's own (DATABASE_URL's default)."""
    if not _database_url:
        databases = TestDatabases(ADMIN_DATABASE_URL)
        _databases.append(databases)
        _database_url.append(databases.fresh())
        atexit.register(databases.drop_all)
    return _database_url[0]


def serve(
    app: str, data_dir: str | Path, workers: int = 4, log_path: Path | None = None, **env: str
) -> tuple[str, subprocess.Popen[bytes]]:
    """(base URL, master process) of `app` (e.g. "backend.doctor.app:app"), ready to take load."""
    port = free_port()
    full_env = {
        "DATA_DIR": str(data_dir),
        "WORKERS": str(workers),
        # Benchmarks measure throughput, not the limits: set them out of reach (they still run).
        "RATE_LIMIT_DEFAULT": "100000000/minute",
        "RATE_LIMIT_QA": "100000000/minute",
        "RATE_LIMIT_HEALTH": "100000000/minute",
        "LOG_LEVEL": "WARNING",
        # Steady state: at benchmark rates MAX_REQUESTS would recycle every worker every few seconds.
        "MAX_REQUESTS": "0",
        "REDIS_KEY_PREFIX": f"medqa-bench-{port}:",
        # The doctor service's routes need a signed-in doctor; one token lasts the whole run.
        "ADMIN_USERNAME": BENCH_ADMIN[0],
        "ADMIN_PASSWORD": BENCH_ADMIN[1],
        "ACCESS_TOKEN_SECONDS": "86400",
        "DATABASE_URL": bench_database(),
        **env,
    }
    process = start_gunicorn(app, port, env=full_env, log_path=log_path)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz", timeout=120)
    return base, process


def sign_in(base: str) -> dict[str, str]:
    """The Authorization header of the benchmark's admin on the doctor service at `base`."""
    form = {"username": BENCH_ADMIN[0], "password": BENCH_ADMIN[1]}
    response = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
