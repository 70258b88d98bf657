"""Replica benchmark: how soon a write on one doctor instance is served by another.

    python -m bench.replicas [--rounds 10] [--batch 500]

Two instances (4 workers each, their own DATA_DIRs, one database, one Redis), as a scaled-out
deployment runs them. Each round adds a document through instance A's API and times until instance
B's search returns it: with the change announced over Redis pub/sub, and with announcements cut off
(a different key prefix on B, so only its database polling, the safety net, sees the write). Then the
same for one import of --batch documents. Target: every write visible within 5 s.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from backend.devstack.processes import stop
from bench.knowledge import DOCTOR
from bench.stack import serve, sign_in

TARGET_SECONDS = 5.0


def _visible(client: httpx.Client, base: str, query: str, doc_id: str, limit: float = 30.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        response = client.post(f"{base}/api/v1/kb/search", json={"query": query, "stores": ["bench"]})
        if response.status_code == 200 and doc_id in [hit["doc_id"] for hit in response.json()["hits"]]:
            return time.perf_counter() - started
        time.sleep(0.01)
    return float("inf")


def measure(rounds: int, batch: int, *, announced: bool) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as first_dir, tempfile.TemporaryDirectory() as second_dir:
        prefix = f"medqa-bench-replicas-{uuid.uuid4().hex[:6]}:"
        first_base, first = serve(DOCTOR, Path(first_dir), REDIS_KEY_PREFIX=prefix)
        other_prefix = prefix if announced else f"{prefix}deaf:"
        second_base, second = serve(DOCTOR, Path(second_dir), REDIS_KEY_PREFIX=other_prefix)
        try:
            headers = sign_in(first_base)
            with httpx.Client(timeout=120, headers=headers) as client:
                seconds = []
                for n in range(rounds):
                    word = f"zq{uuid.uuid4().hex[:10]}"
                    document = {
                        "id": f"r{n}-{word}",
                        "title": f"note {n}",
                        "text": f"Marker {word} in a note.",
                    }
                    client.post(
                        f"{first_base}/api/v1/kb/stores/bench/documents", json={"documents": [document]}
                    ).raise_for_status()
                    seconds.append(_visible(client, second_base, word, document["id"]))
                word = f"zq{uuid.uuid4().hex[:10]}"
                documents = [
                    {
                        "id": f"b{n}",
                        "title": f"note {n}",
                        "text": f"Note {n} on gout, renal colic and {word}{n}.",
                    }
                    for n in range(batch)
                ]
                client.post(
                    f"{first_base}/api/v1/kb/stores/bench/documents", json={"documents": documents}
                ).raise_for_status()
                last = batch - 1
                import_seconds = _visible(client, second_base, f"{word}{last}", f"b{last}")
        finally:
            stop(first, signal.SIGTERM)
            stop(second, signal.SIGTERM)
    return seconds, import_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    for announced in (True, False):
        seconds, import_seconds = measure(args.rounds, args.batch, announced=announced)
        label = "pub/sub announcement" if announced else "polling only       "
        worst = max([*seconds, import_seconds])
        print(
            f"write on A visible on B, {label}: one document median {statistics.median(seconds):.2f}s, "
            f"max {max(seconds):.2f}s; import of {args.batch} {import_seconds:.2f}s; "
            f"worst/target {worst / TARGET_SECONDS:.2f} ({'met' if worst <= TARGET_SECONDS else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
