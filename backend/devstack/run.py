"""The README's run command: both services under gunicorn, both web UIs, and Redis and PostgreSQL
when none is there (no Redis answers at REDIS_URL; DATABASE_URL is unset).

    python -m backend.devstack.run        (what `make run` calls)

Ctrl-C stops everything, in order: UIs, services (gracefully), then the Redis and PostgreSQL it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from types import FrameType
from urllib.parse import urlsplit

from backend.core.config import Settings, load_settings
from backend.devstack.postgres_server import LocalPostgres
from backend.devstack.processes import free_port, start_gunicorn, stop, wait_http
from backend.devstack.redis_server import LocalRedis, redis_answers, redis_server_binary

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _say(message: str) -> None:
    print(f"[medqa] {message}", flush=True)


def _ensure_redis(settings: Settings) -> LocalRedis | None:
    if redis_answers(settings.redis_url):
        _say(f"using the Redis at {settings.redis_url}")
        return None
    parts = urlsplit(settings.redis_url)
    if parts.scheme != "redis" or parts.hostname not in _LOOPBACK:
        raise SystemExit(f"[medqa] no Redis answers at {settings.redis_url}; start it or fix REDIS_URL")
    local = LocalRedis(parts.port or 6379, settings.data_dir / "redis")
    local.start()
    _say(
        f"no Redis answered at {settings.redis_url}: started {redis_server_binary()} there, "
        f"persisting (AOF) in {local.directory}"
    )
    return local


def _ensure_postgres(settings: Settings) -> LocalPostgres | None:
    """The configured DATABASE_URL as is; without one, a PostgreSQL of our own in DATA_DIR/postgres."""
    if "database_url" in settings.model_fields_set:
        _say(f"using the PostgreSQL at DATABASE_URL ({urlsplit(settings.database_url).hostname})")
        return None
    local = LocalPostgres(settings.postgres_port or free_port(), settings.data_dir / "postgres")
    local.start()
    os.environ["DATABASE_URL"] = local.url  # the services (our children) inherit it
    _say(f"no DATABASE_URL: started PostgreSQL at {local.url}, its data in {local.data}")
    return local


def _dev_admin(settings: Settings) -> dict[str, str]:
    """A first admin for a development stack without ADMIN_USERNAME: `admin`, with a password made
    once and kept in DATA_DIR/run (the account outlives a restart, so must its password)."""
    if settings.admin_username:
        return {}
    secret_file = settings.data_dir / "run" / "dev-admin-password"
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(12))
    password = secret_file.read_text().strip()
    _say(f"doctor sign-in for development: admin / {password}  (kept in {secret_file})")
    return {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": password}


def main() -> None:
    settings = load_settings()
    redis = _ensure_redis(settings)
    try:
        postgres = _ensure_postgres(settings)
    except RuntimeError as exc:
        if redis:
            redis.stop()
        raise SystemExit(f"[medqa] {exc}") from None
    doctor_env = _dev_admin(settings) if settings.app_env != "production" else {}
    services = {
        "doctor": ("backend.doctor.app:app", settings.doctor_port, settings.doctor_ui_port),
        "patient": ("backend.patient.app:app", settings.patient_port, settings.patient_ui_port),
    }
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def shutdown(signum: int | None = None, frame: FrameType | None = None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        _say("stopping…")
        for name, child in reversed(children):
            code = stop(child, signal.SIGTERM)
            _say(f"{name} stopped (exit {code})")
        if postgres:
            postgres.stop()
            _say("local PostgreSQL stopped")
        if redis:
            redis.stop()
            _say("local Redis stopped")

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        for name, (app, port, _) in services.items():
            env = doctor_env if name == "doctor" else {}
            children.append((f"{name} service", start_gunicorn(app, port, env=env, host=settings.host)))
        for name, (_, port, ui_port) in services.items():
            ui = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "backend.devstack.ui_server",
                    "--ui",
                    name,
                    "--host",
                    settings.host,
                    "--port",
                    str(ui_port),
                    "--api",
                    f"http://127.0.0.1:{port}",
                ]
            )
            children.append((f"{name} UI", ui))
        for name, (_, port, ui_port) in services.items():
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=60)
            wait_http(f"http://127.0.0.1:{ui_port}/", timeout=30)
            _say(
                f"{name}: API http://{settings.host}:{port} ({settings.workers} workers), "
                f"UI http://{settings.host}:{ui_port}"
            )
        _say("ready; Ctrl-C stops everything")
        while not stopping:
            for name, child in children:
                if child.poll() is not None and not stopping:
                    _say(f"{name} exited unexpectedly (exit {child.returncode})")
                    shutdown()
                    raise SystemExit(1)
            time.sleep(0.5)
    except (TimeoutError, RuntimeError) as exc:
        _say(f"start failed: {exc}")
        shutdown()
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
