"""Prometheus metrics, aggregated over all gunicorn workers of one service.

Gunicorn's master points PROMETHEUS_MULTIPROC_DIR at a directory of its own before forking
(see gunicorn.conf.py), so every worker writes there and any worker can serve the sum.
Label values are route templates and fixed words, never request data: no patient text,
session id or token can reach a label.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.registry import REGISTRY

HTTP_REQUESTS = Counter(
    "medqa_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "medqa_http_request_duration_seconds",
    "Time from the first byte of a request to the end of its response.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_PROGRESS = Gauge(
    "medqa_http_requests_in_progress",
    "Requests being served right now, summed over live workers.",
    ["service"],
    multiprocess_mode="livesum",
)
HTTP_SHED = Counter(
    "medqa_http_requests_shed_total",
    "Requests refused with 503 because a worker was at MAX_CONNECTIONS.",
    ["service"],
)
REDIS_POOL_CONNECTIONS = Gauge(
    "medqa_redis_pool_connections",
    "Redis connections per state, summed over live workers.",
    ["service", "state"],
    multiprocess_mode="livesum",
)
REDIS_POOL_MAX = Gauge(
    "medqa_redis_pool_max_connections",
    "Bound of each worker's Redis pool (REDIS_MAX_CONNECTIONS).",
    ["service"],
    multiprocess_mode="max",
)
REDIS_ERRORS = Counter(
    "medqa_redis_errors_total",
    "Redis calls that failed (connection refused, timeout), by what the call was for.",
    ["service", "operation"],
)
RATE_LIMITED = Counter(
    "medqa_rate_limited_total",
    "Requests refused with 429, by limit name.",
    ["service", "limit"],
)
RATE_LIMIT_FALLBACK = Counter(
    "medqa_rate_limit_memory_fallback_total",
    "Rate-limit decisions taken in worker memory because Redis was unavailable.",
    ["service"],
)
READY = Gauge(
    "medqa_ready",
    "1 when the worker's last readiness check passed, per live worker (summed).",
    ["service"],
    multiprocess_mode="livesum",
)

WORKER_STARTS = Counter(
    "medqa_worker_starts_total",
    "Gunicorn workers booted (first start, reload, or replacing one that died or hit MAX_REQUESTS).",
    ["service"],
)


def render_metrics() -> tuple[bytes, str]:
    """The exposition text: the sum over all workers under gunicorn, this process otherwise."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def metric_samples(prefix: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample whose name starts with `prefix`, over all workers."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry: Any = REGISTRY
    if directory:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return [
        (sample.name, sample.labels, sample.value)
        for family in registry.collect()
        for sample in family.samples
        if sample.name.startswith(prefix)
    ]


def mark_worker_dead(pid: int) -> None:
    """Called by the gunicorn master when a worker exits, so live gauges forget it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
