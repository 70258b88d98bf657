"""Prometheus metrics of the knowledge layer (see backend/core/metrics.py for the conventions)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STORE_LOADS = Counter("medqa_kb_store_loads_total", "Vector stores loaded into a worker.", ["service"])
STORE_LOAD_FAILURES = Counter(
    "medqa_kb_store_load_failures_total", "Vector store loads that failed.", ["service"]
)
STORE_EVICTIONS = Counter(
    "medqa_kb_store_evictions_total", "Vector stores evicted from a worker's LRU.", ["service"]
)
STORES_LOADED = Gauge(
    "medqa_kb_stores_loaded", "Vector stores loaded, summed over live workers.", ["service"],
    multiprocess_mode="livesum",
)  # fmt: skip
SEARCH_DURATION = Histogram(
    "medqa_kb_search_duration_seconds",
    "Time to embed a query and search the stores it goes to (one thread-pool job).",
    ["service"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
QA_DURATION = Histogram(
    "medqa_qa_duration_seconds",
    "Time to answer one question, by how it was answered.",
    ["service", "mode"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QA_ANSWERS = Counter(
    "medqa_qa_answers_total",
    "Questions answered, by mode (llm, extractive, degraded, not_found).",
    ["service", "mode"],
)
EMBEDDING_FAILURES = Counter(
    "medqa_kb_embedding_failures_total",
    "Questions whose embedding failed (timeout, error, breaker open): answered from the lexical index.",
    ["service"],
)
