"""Gunicorn settings for both services, taken from Settings (environment or .env).

    gunicorn -c gunicorn.conf.py backend.doctor.app:app    # binds HOST:DOCTOR_PORT
    gunicorn -c gunicorn.conf.py backend.patient.app:app   # binds HOST:PATIENT_PORT
A --bind on the command line overrides the configured one.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from backend.core import handover
from backend.core.config import load_settings
from backend.core.logging import logging_config

_settings = load_settings()


def _service_from_argv(argv: list[str]) -> str:
    for arg in argv[1:]:
        if arg.startswith("backend.") and ":" in arg:
            return arg.split(":", 1)[0].split(".")[1]
    return "doctor"


_service = _service_from_argv(sys.argv)
_port = _settings.patient_port if _service == "patient" else _settings.doctor_port

bind = [f"{_settings.host}:{_port}"]
workers = _settings.workers
worker_class = "backend.core.worker.MedQAWorker"
reload = False
# The master imports the app (and the libraries: backend/core/preload.py) once; a worker, and every
# one recycled by MAX_REQUESTS, starts from that copy and only runs the lifespan, which makes every
# resource (pools, indexes, FAISS threads, sockets) after the fork. SIGHUP restarts the workers with
# the same code: a new release is a new master (a rolling restart of the containers or pods).
preload_app = _settings.preload_app
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
timeout = _settings.worker_timeout
graceful_timeout = _settings.graceful_timeout + int(_settings.drain_seconds)
keepalive = _settings.keepalive
forwarded_allow_ips = _settings.forwarded_allow_ips
proc_name = f"medqa-{_service}"
logconfig_dict = logging_config(_settings)
accesslog = None  # one JSON line per request comes from the app's middleware
# Gunicorn opens a control socket per user by default; two services on one machine would share
# it. Each gets its own only when CONTROL_SOCKET names one (it may contain {service}).
if _settings.control_socket:
    control_socket = _settings.control_socket.format(service=_service)
else:
    control_socket_disable = True


def _per_master(root: Path, env: str) -> Path:
    """A fresh directory per master under `root`, named to the workers in `env` (they inherit it
    through the fork). Made when the master reads this file, before it imports the app
    (preload_app); a SIGHUP reads the file again and keeps the directory."""
    directory = root / f"{_service}-{os.getpid()}"
    if os.environ.get(env) != str(directory):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        os.environ[env] = str(directory)
    return directory


# Metrics: two services (or instances) never mix numbers, and a restart never counts the last
# run's requests. Made before the app import, which registers the metrics.
_metrics = _per_master(_settings.metrics_root, "PROMETHEUS_MULTIPROC_DIR")
_handover = _per_master(_settings.data_dir / "run" / "handover", handover.ENV)


def on_starting(server: Any) -> None:
    server.log.info("metrics directory %s", _metrics)
    from backend.core.preload import preload_libraries

    # What the app imports only when first used (a migration, the HTTP parser), imported once here.
    missing = preload_libraries()
    from backend.core.db.migrate import head_revisions

    head_revisions()  # the migration scripts, read once for every worker
    from backend.core.db.engine import migrate_before_fork

    server.log.info("database: %s", migrate_before_fork(_settings))
    if server.cfg.preload_app:
        from backend.core.preload import warm_routes

        server.log.info("routes warmed before the fork: %d endpoints", warm_routes(server.app.wsgi()))
    if missing:
        server.log.info("not preloaded (not installed): %s", ", ".join(missing))


def pre_fork(server: Any, worker: Any) -> None:
    # The graph snapshot of the current knowledge version, when a worker already built it, is
    # handed to the new worker through the fork: ready at once instead of reading it back.
    from backend.core.knowledge.graph.build import inherit_for_fork

    try:
        inherit_for_fork(_settings)
    except Exception as exc:  # the worker builds or loads it itself; never block the fork
        server.log.warning("graph snapshot not inherited: %s", type(exc).__name__)


def post_worker_init(worker: Any) -> None:
    # Counters of dead workers stay in the multiprocess directory, so the sum only grows: its
    # increase beyond WORKERS is the restarts a dashboard shows.
    from backend.core.metrics import WORKER_STARTS

    WORKER_STARTS.labels(service=_service).inc()


def child_exit(server: Any, worker: Any) -> None:
    from backend.core.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)
    # A worker recycled by MAX_REQUESTS asked for one worker more (SIGTTIN) to take over from it.
    if handover.finish(_handover, worker.pid) and server.num_workers > server.cfg.workers:
        server.num_workers -= 1


def on_exit(server: Any) -> None:
    for directory in (_metrics, _handover):
        shutil.rmtree(directory, ignore_errors=True)
