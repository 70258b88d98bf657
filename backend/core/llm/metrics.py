"""Prometheus metrics of the LLM client, summed over gunicorn workers like backend/core/metrics.py.

Labels are the service name and fixed words only: no prompt, answer or model output reaches a label.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

Outcome = Literal["ok", "timeout", "http_error", "malformed", "connection", "breaker_open"]

LLM_CALLS = Counter(
    "medqa_llm_calls_total",
    "LLM chat-completion calls, by outcome (breaker_open: refused without calling the LLM).",
    ["service", "outcome"],
)
LLM_DURATION = Histogram(
    "medqa_llm_call_duration_seconds",
    "Time of LLM calls that were let through the breaker, queueing for a slot included.",
    ["service"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 20, 30, 60),
)
LLM_BREAKER_STATE = Gauge(
    "medqa_llm_breaker_state",
    "LLM circuit breaker: 0 closed, 1 half-open, 2 open; the worst live worker.",
    ["service"],
    # Breakers are per worker; the instance is as degraded as its worst live worker.
    multiprocess_mode="livemax",
)
