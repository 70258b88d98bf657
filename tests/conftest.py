"""Shared fixtures: the real Redis, private Redis servers, and real gunicorn masters."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis as redis_sync

from backend.devstack.postgres_server import LocalPostgres
from backend.devstack.processes import free_port, start_gunicorn, stop, wait_http
from backend.devstack.redis_server import LocalRedis, redis_answers
from tests.support import database

SHARED_REDIS_URL = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key this run writes carries this prefix, so tests never meet other data in the shared Redis.
KEY_PREFIX = os.environ.setdefault("REDIS_KEY_PREFIX", f"medqa-test-{uuid.uuid4().hex[:8]}:")


@pytest.fixture(scope="session", autouse=True)
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis at REDIS_URL; started here, like `make run` does, where none answers."""
    local = None
    if not redis_answers(SHARED_REDIS_URL):
        port = int(SHARED_REDIS_URL.rsplit(":", 1)[1].split("/")[0])
        local = LocalRedis(port, tmp_path_factory.mktemp("shared-redis"), persist=False)
        local.start()
    yield SHARED_REDIS_URL
    client = redis_sync.Redis.from_url(SHARED_REDIS_URL)
    for key in client.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
        client.delete(key)
    client.close()
    if local:
        local.stop()


# The machine's PostgreSQL unless DATABASE_URL names another; its maintenance database creates ours.
SHARED_POSTGRES_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[database.TestDatabases]:
    """Where tests make their databases: the shared server, or one started here when none answers."""
    local = None
    admin_url = SHARED_POSTGRES_URL
    if not database.answers(admin_url):
        local = LocalPostgres(free_port(), tmp_path_factory.mktemp("shared-postgres"), database="postgres")
        local.start()
        admin_url = local.url
    databases = database.TestDatabases(admin_url)
    yield databases
    databases.drop_all()
    if local:
        local.stop()


@pytest.fixture
def database_url(test_databases: database.TestDatabases) -> str:
    """A fresh, migrated database of this test's own."""
    return test_databases.fresh()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own on a free port: the one to stop, restart or break."""
    server = LocalPostgres(free_port(), tmp_path / "postgres")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    """A redis-server of this test's own on a free port: the one to stop, restart or break."""
    server = LocalRedis(free_port(), tmp_path / "redis", persist=True)
    server.start()
    yield server
    server.stop()


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # what a client sends, e.g. a signed-in token

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`, from /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum_samples(text, name, **labels)


def sum_samples(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartService]:
    """Start `gunicorn -c gunicorn.conf.py APP` for real; every master is stopped after the test.
    Services of one test share one fresh database unless DATABASE_URL is passed."""
    started: list[Service] = []
    shared_database: list[str] = []

    def test_database() -> str:
        if not shared_database:
            shared_database.append(request.getfixturevalue("database_url"))
        return shared_database[0]

    def start(app: str = "tests.support.slow_app:app", wait: bool = True, **env: str) -> Service:
        port = free_port()
        data_dir = tmp_path / f"data-{port}"
        full_env = {
            "DATA_DIR": str(data_dir),
            "WORKERS": "4",
            "LOG_FORMAT": "json",
            # Its own key space, so limits and state never leak from one test into the next.
            "REDIS_KEY_PREFIX": f"{KEY_PREFIX}{port}:",
            **env,
        }
        if "DATABASE_URL" not in env:
            full_env["DATABASE_URL"] = test_database()
        log_path = tmp_path / f"gunicorn-{port}.log"
        process = start_gunicorn(app, port, env=full_env, log_path=log_path)
        service = Service(f"http://127.0.0.1:{port}", process, log_path, full_env)
        started.append(service)
        if wait:
            wait_http(f"{service.url}/healthz", timeout=30)
            _wait_all_workers(service, int(full_env["WORKERS"]))
        return service

    yield start
    for service in started:
        stop(service.process, signal.SIGTERM)


def _wait_all_workers(service: Service, workers: int) -> None:
    """Return once every worker has finished its lifespan start (each logs "worker ready")."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if service.log().count('"msg":"worker ready"') >= workers:
            return
        time.sleep(0.05)
    raise TimeoutError(f"workers did not all start:\n{service.log()[-3000:]}")


def require_tool(name: str) -> str:
    """Path of an external tool a test needs: skipped on a developer's machine, a failure in CI."""
    import shutil

    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing: .ci/run installs it (apt-get install)")
    pytest.skip(f"{name} not installed (CI installs it)")
