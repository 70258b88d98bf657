"""Knowledge-layer benchmark on the real public data sets in ../shared/data (never copied here).

    python -m bench.knowledge [--seconds 5] [--keep DIR]

1. Imports the 39健康网 disease table and MedQuAD with the product's importers: time, sizes.
2. The doctor service under gunicorn with 4 workers, all in one run: uncached QA throughput as a
   share of a hello-world route and of /api/v1/ping, single-request latency p50, and the memory
   (PSS) of 4 workers against 1 worker with every store loaded.
Retrieval quality and latency are bench/retrieval.py's (which runs this part at its end).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from backend.core.config import PROJECT_ROOT, Settings
from backend.core.knowledge.importers import FORMATS
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.service import ensure_starter_store
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository
from backend.devstack.processes import stop
from bench.loadgen import post_json_script, run_wrk
from bench.stack import serve, sign_in

SHARED = PROJECT_ROOT.parent / "shared" / "data"
H39 = SHARED / "qasystemonmedicalgraph-39health" / "disease.utf8.csv"
MEDQUAD = SHARED / "medquad"
DOCTOR = "backend.doctor.app:app"


def documents(fmt: str, path: Path) -> Iterator[Document]:
    for item in FORMATS[fmt](path):
        if isinstance(item, Document):
            yield item


def import_store(indexer: Indexer, store: str, fmt: str, path: Path) -> None:
    started = time.perf_counter()
    docs = list(documents(fmt, path))
    read_seconds = time.perf_counter() - started
    info = indexer.upsert(store, docs)
    total = time.perf_counter() - started
    size = sum(f.stat().st_size for f in indexer.repository.store_dir(store).rglob("*") if f.is_file())
    print(
        f"import {store:8} {info.documents:6d} docs {info.chunks:6d} chunks  "
        f"read {read_seconds:5.1f}s  total {total:6.1f}s  on disk {size / 2**20:7.1f} MiB"
    )


def pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def family(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def load_every_store_in_every_worker(
    base: str, stores: list[str], workers: int, headers: dict[str, str]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for store in stores:
            with httpx.Client(headers=headers) as client:  # new connection: spreads over workers
                client.post(f"{base}/api/v1/kb/search", json={"query": "fever", "stores": [store]})
        metrics = httpx.get(f"{base}/metrics").text
        loaded = sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("medqa_kb_stores_loaded")
        )
        if loaded >= workers * len(stores):
            return
    raise TimeoutError("not every worker loaded every store")


def serving_figures(data_dir: Path, seconds: int) -> None:
    """PSS of 4 workers against 1 and uncached QA throughput, over the starter store, h39 and medquad."""
    settings = Settings(data_dir=data_dir)
    repository = KnowledgeRepository(settings)
    indexer = Indexer(repository)
    ensure_starter_store(indexer)
    for store, fmt, path in (("h39", "health39", H39), ("medquad", "medquad", MEDQUAD)):
        if repository.current_version(store) is None:
            import_store(indexer, store, fmt, path)
    rng = random.Random(7)
    names = sorted(title for _, title in repository.documents("h39").values())
    titles = sorted(title for _, title in repository.documents("medquad").values())
    qa_questions = [f"{name}有哪些症状" for name in rng.sample(names, 200)] + rng.sample(titles, 200)
    args = argparse.Namespace(seconds=seconds)
    stores = ["diseases", "h39", "medquad"]
    rng.shuffle(qa_questions)
    bodies = [json.dumps({"question": q[:500]}, ensure_ascii=False) for q in qa_questions]
    script_path = str(data_dir / "qa.lua")
    warm_seconds = max(10, args.seconds)

    # Both configurations serve the same QA warm-up before PSS is read: the indexes are memory-mapped,
    # so only pages a worker has touched are resident, and an unused index would flatter either side.
    # Uncached: every question runs the pipeline (bench/cache.py measures the answer cache).
    base, process = serve(DOCTOR, data_dir, 1, CACHE_ENABLED="false")
    try:
        headers = sign_in(base)
        script = post_json_script(script_path, bodies, headers)
        load_every_store_in_every_worker(base, stores, 1, headers)
        run_wrk(f"{base}/api/v1/medical/qa", seconds=warm_seconds, script=script)
        pss_one = pss_kib(family(process.pid))
    finally:
        stop(process)
    base, process = serve(DOCTOR, data_dir, 4, CACHE_ENABLED="false")
    try:
        headers = sign_in(base)
        script = post_json_script(script_path, bodies, headers)
        load_every_store_in_every_worker(base, stores, 4, headers)
        run_wrk(f"{base}/api/v1/medical/qa", seconds=warm_seconds, script=script)
        pss_four = pss_kib(family(process.pid))
        run_wrk(f"{base}/healthz", seconds=1)
        hello = run_wrk(f"{base}/healthz", seconds=args.seconds)
        ping = run_wrk(f"{base}/api/v1/ping", seconds=args.seconds, headers=headers)
        qa = run_wrk(f"{base}/api/v1/medical/qa", seconds=args.seconds, script=script)
        hello_share = qa.requests_per_second / hello.requests_per_second
        with httpx.Client(timeout=30, headers=headers) as client:
            latencies, server_ms = [], []
            for question in qa_questions[:200]:
                started = time.perf_counter()
                body = client.post(f"{base}/api/v1/medical/qa", json={"question": question[:500]}).json()
                latencies.append((time.perf_counter() - started) * 1000)
                server_ms.append(body["took_ms"])
    finally:
        stop(process, signal.SIGTERM)

    print(f"hello-world (/healthz)      {hello.requests_per_second:8.0f} req/s  p50 {hello.p50_ms:.2f} ms")
    print(f"API hello (/api/v1/ping)    {ping.requests_per_second:8.0f} req/s  p50 {ping.p50_ms:.2f} ms")
    print(
        f"uncached QA (/medical/qa)   {qa.requests_per_second:8.0f} req/s  p50 {qa.p50_ms:.2f} ms  "
        f"non-2xx {qa.non_2xx}  -> {hello_share:.1%} of hello-world, "
        f"{qa.requests_per_second / ping.requests_per_second:.1%} of the API hello-world /api/v1/ping "
        "(target >= 25% of ping)"
    )
    print(
        f"single request, sequential: client p50 {statistics.median(latencies):.2f} ms, "
        f"pipeline p50 {statistics.median(server_ms):.2f} ms (target <= 5 ms)"
    )
    print(
        f"memory (PSS) with every store loaded: 1 worker {pss_one / 1024:.0f} MiB, 4 workers "
        f"{pss_four / 1024:.0f} MiB -> {pss_four / pss_one:.2f}x (target <= 1.3x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the imported knowledge in this DATA_DIR")
    args = parser.parse_args()
    if not H39.exists() or not MEDQUAD.exists():
        raise SystemExit(f"the public data sets are expected under {SHARED}")
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="medqa-bench-"))
    serving_figures(data_dir, args.seconds)
    if not args.keep:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
