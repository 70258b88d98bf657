"""Prometheus metrics of the tiered cache (see backend/core/metrics.py for the conventions).

Labels are fixed words (service, kind, tier, result, scope): never a key or any text of a question.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CACHE_REQUESTS = Counter(
    "medqa_cache_requests_total",
    "Cache lookups by tier (l1, l2) and result (hit, miss).",
    ["service", "kind", "tier", "result"],
)
CACHE_COMPUTES = Counter(
    "medqa_cache_computes_total", "Values computed because no tier held them.", ["service", "kind"]
)
CACHE_COALESCED = Counter(
    "medqa_cache_coalesced_total",
    "Requests that waited for an identical computation instead of repeating it "
    "(scope worker: in the same process; cluster: in another worker or instance, via the Redis lock).",
    ["service", "kind", "scope"],
)
CACHE_EVICTIONS = Counter("medqa_cache_evictions_total", "L1 entries evicted to stay in bounds.", ["service"])
CACHE_L2_ERRORS = Counter(
    "medqa_cache_l2_errors_total", "Redis errors and timeouts of the L2 cache.", ["service"]
)
CACHE_L2_SKIPPED = Counter(
    "medqa_cache_l2_skipped_total",
    "L2 operations skipped: value above CACHE_L2_MAX_BYTES (oversize) or breaker open (breaker).",
    ["service", "reason"],
)
CACHE_FLUSHES = Counter("medqa_cache_flushes_total", "Admin flushes, by kind (or all).", ["service", "kind"])
CACHE_L1_ENTRIES = Gauge(
    "medqa_cache_l1_entries", "Entries in the workers' L1 caches, summed.", ["service"],
    multiprocess_mode="livesum",
)  # fmt: skip
CACHE_L2_BREAKER = Gauge(
    "medqa_cache_l2_breaker_state", "L2 breaker: 0 closed, 1 half-open, 2 open (worst worker).", ["service"],
    multiprocess_mode="livemax",
)  # fmt: skip
