"""Sign-in metrics: outcomes only, never a username or an address in a label."""

from prometheus_client import Counter

LOGINS = Counter(
    "medqa_auth_logins_total",
    "Sign-in attempts by result (success, failure, locked).",
    ["service", "result"],
)
AUTH_DEGRADED = Counter(
    "medqa_auth_degraded_total",
    "Requests let through on a verified token without the Redis revocation check (Redis unavailable).",
    ["service"],
)
