"""Worker start-up benchmark: how long a forked worker takes to serve, and what MAX_REQUESTS costs.

    python -m bench.startup [--seconds 5] [--kb DIR]

1. Worker ready time after fork (one worker killed, time until its replacement answers /healthz),
   with the starter knowledge base and with the 39健康网 table + MedQuAD imported (../shared/data;
   --kb reuses a DATA_DIR already holding them, else they are imported into a temporary one).
2. With the large knowledge base and 4 workers: /healthz and cached-QA throughput with
   MAX_REQUESTS=1000 (jitter 100) against MAX_REQUESTS=0, as ratios (target >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from backend.core.config import Settings
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.service import ensure_starter_store
from backend.core.knowledge.store.repository import KnowledgeRepository
from backend.devstack.processes import stop
from bench.knowledge import DOCTOR, H39, MEDQUAD, family, import_store
from bench.loadgen import post_json_script, run_wrk
from bench.stack import serve, sign_in

QUESTIONS = ["高血压的并发症有哪些", "糖尿病吃什么药", "What are the symptoms of glaucoma?"]


def ready_after_fork(base: str, master: int, rounds: int = 3) -> list[float]:
    """Seconds from killing the only worker until a new one answers (fork + start + first reply)."""
    figures = []
    for _ in range(rounds):
        worker = family(master)[1]
        os.kill(worker, signal.SIGKILL)
        started = time.perf_counter()
        with httpx.Client(timeout=0.5) as client:
            while True:
                try:
                    if client.get(f"{base}/healthz").status_code == 200 and worker not in family(master):
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        figures.append(time.perf_counter() - started)
    return figures


def large_kb(directory: Path) -> None:
    indexer = Indexer(KnowledgeRepository(Settings(data_dir=directory)))
    ensure_starter_store(indexer)
    import_store(indexer, "h39", "health39", H39)
    import_store(indexer, "medquad", "medquad", MEDQUAD)


def startup(label: str, data_dir: Path) -> float:
    log_path = data_dir / "bench-startup.log"
    log_path.unlink(missing_ok=True)
    base, server = serve(DOCTOR, data_dir, workers=1, log_path=log_path, LOG_LEVEL="INFO")
    try:
        figures = ready_after_fork(base, server.pid)
    finally:
        stop(server, signal.SIGTERM)
    # The worker's own figure (fork to lifespan done), without the respawn and polling around it;
    # the first is the very first worker, which may build what the others then load.
    ready = [
        entry
        for line in log_path.read_bytes().splitlines()
        if line.startswith(b"{") and (entry := json.loads(line)).get("msg") == "worker ready"
    ][1:]
    inside = [float(entry["since_fork_s"]) for entry in ready]
    cpu = [float(entry["cpu_s"]) for entry in ready]
    median = statistics.median(inside) if inside else float("nan")
    print(
        f"worker ready after fork, {label:18}: median {median:5.2f}s wall, "
        f"{statistics.median(cpu) if cpu else float('nan'):5.2f}s CPU in the worker "
        f"({', '.join(f'{f:.2f}' for f in inside)}); kill to first reply {statistics.median(figures):.2f}s"
    )
    return median


def throughput(data_dir: Path, seconds: int, max_requests: str) -> tuple[float, float]:
    base, server = serve(DOCTOR, data_dir, MAX_REQUESTS=max_requests, MAX_REQUESTS_JITTER="100")
    try:
        headers = sign_in(base)
        with httpx.Client(timeout=60, headers=headers) as client:
            for question in QUESTIONS:  # into the cache
                client.post(f"{base}/api/v1/medical/qa", json={"question": question}).raise_for_status()
        run_wrk(f"{base}/healthz", seconds=1)
        hello = run_wrk(f"{base}/healthz", seconds=seconds)
        with tempfile.TemporaryDirectory() as scripts:
            bodies = [json.dumps({"question": q}, ensure_ascii=False) for q in QUESTIONS]
            script = post_json_script(str(Path(scripts) / "qa.lua"), bodies, headers)
            cached = run_wrk(f"{base}/api/v1/medical/qa", seconds=seconds, script=script)
    finally:
        stop(server, signal.SIGTERM)
    if hello.non_2xx or cached.non_2xx:
        print(f"MAX_REQUESTS={max_requests}: non-2xx healthz {hello.non_2xx}, cached QA {cached.non_2xx}")
    return hello.requests_per_second, cached.requests_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--kb", type=Path, help="a DATA_DIR already holding h39 and medquad")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as starter, tempfile.TemporaryDirectory() as scratch:
        startup("starter KB", Path(starter))
        big = args.kb or Path(scratch)
        if args.kb is None:
            large_kb(big)
        startup("39health + MedQuAD", big)
        steady = throughput(big, args.seconds, "0")
        recycled = throughput(big, args.seconds, "1000")
    for name, zero, thousand in (("healthz", steady[0], recycled[0]), ("cached QA", steady[1], recycled[1])):
        print(
            f"{name:10} MAX_REQUESTS=0 {zero:8.0f} req/s  =1000 {thousand:8.0f}  ratio {thousand / zero:.2f}"
        )


if __name__ == "__main__":
    main()
