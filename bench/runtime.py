"""Runtime benchmark: one gunicorn master with 4 workers, all figures from one run.

    python -m bench.runtime [--seconds 5]

Prints throughput of a hello-world route (/healthz), the async Redis rate-limited route
(/api/v1/ping) and the same limit through slowapi's synchronous Redis client, as ratios.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile

from backend.devstack.processes import stop
from bench.loadgen import LoadResult, run_wrk
from bench.stack import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        base, server = serve("bench.apps:app", data_dir)
        try:
            run_wrk(f"{base}/healthz", seconds=1, connections=args.connections)  # warm-up
            results: dict[str, LoadResult] = {}
            for name, path in (
                ("hello (/healthz)", "/healthz"),
                ("API route, no limit", "/bench/plain"),
                ("rate-limited, async Redis", "/api/v1/ping"),
                ("rate-limited, slowapi sync Redis", "/bench/slowapi"),
            ):
                results[name] = run_wrk(f"{base}{path}", seconds=args.seconds, connections=args.connections)
        finally:
            stop(server, signal.SIGTERM)

    hello = results["hello (/healthz)"]
    print(f"runtime benchmark: 4 workers, {args.connections} connections, {args.seconds}s per route")
    print(f"{'route':36} {'req/s':>9} {'share':>7} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, result in results.items():
        share = result.requests_per_second / hello.requests_per_second
        print(
            f"{name:36} {result.requests_per_second:9.0f} {share:7.1%} "
            f"{result.p50_ms:8.2f} {result.p99_ms:8.2f} {result.non_2xx:8d}"
        )
    plain = results["API route, no limit"]
    cores = os.cpu_count() or 1
    for name in ("rate-limited, async Redis", "rate-limited, slowapi sync Redis"):
        # Extra machine time per request against the same route without a limit.
        cost_us = (1 / results[name].requests_per_second - 1 / plain.requests_per_second) * cores * 1e6
        print(f"cost of the limit check ({name}): {cost_us:.0f} µs of CPU per request")


if __name__ == "__main__":
    main()
