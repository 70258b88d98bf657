"""Knowledge-layer benchmark on the real public data sets in ../shared/data (never copied here).

    python -m bench.knowledge [--seconds 5] [--keep DIR]

1. Imports the 39健康网 disease table and MedQuAD with the product's importers: time, sizes.
2. Search latency (p50/p99, embedding included), recall of the chosen index against exact search,
   and retrieval quality on questions derived from the data.
3. The doctor service under gunicorn with 4 workers, all in one run: uncached QA throughput as a
   share of a hello-world route, single-request latency p50, and the memory (PSS) of 4 workers
   against 1 worker with every store loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import httpx
import numpy as np

from backend.core.config import PROJECT_ROOT, Settings
from backend.core.knowledge.importers import FORMATS
from backend.core.knowledge.retrieval.vector_store import LoadedStore, build_hnsw, read_chunks
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


def import_store(repository: KnowledgeRepository, store: str, fmt: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    docs = list(documents(fmt, path))
    read_seconds = time.perf_counter() - started
    info = repository.upsert(store, docs)
    total = time.perf_counter() - started
    directory = repository.version_dir(store, info.version)
    size = sum(f.stat().st_size for f in directory.iterdir())
    print(
        f"import {store:8} {info.documents:6d} docs {info.chunks:6d} chunks  index={info.index_type:5} "
        f"read {read_seconds:5.1f}s  total {total:6.1f}s  on disk {size / 2**20:7.1f} MiB "
        f"(vectors or index {_index_bytes(directory) / 2**20:.1f} MiB)"
    )
    return {"seconds": total, "chunks": info.chunks}


def _index_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.iterdir() if f.name in {"vectors.npy", "index.faiss"})


def latency_and_recall(repository: KnowledgeRepository, store: str, queries: list[str]) -> None:
    """p50/p99 search latency (embedding and reading the hits included) and, for HNSW, recall@10
    against exact search over the same vectors at several HNSW_EF_SEARCH values. An exact store is
    also timed against the HNSW index it would otherwise get, to show why it is exact."""
    version = repository.current_version(store)
    assert version is not None
    loaded = LoadedStore(repository.version_dir(store, version), repository.new_embedder())
    sample = np.vstack([loaded.embed_query(q) for q in queries[:200]])
    configured = repository.settings.hnsw_ef_search
    columns = loaded.columns
    if columns is not None:
        print(_timed(f"search {store:8} exact  ", loaded, queries))
        vectors = np.ascontiguousarray(columns.T)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        loaded.columns, loaded.index = None, build_hnsw(vectors)
        faiss.omp_set_num_threads(1)
        efs = [configured]
    else:
        vectors = loaded.index.reconstruct_n(0, loaded.index.ntotal)
        efs = sorted({32, configured, 128})
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, exact_ids = exact.search(sample, 10)
    for ef in efs:
        loaded.index.hnsw.efSearch = ef
        _, approx_ids = loaded.index.search(sample, 10)
        pairs = zip(approx_ids, exact_ids, strict=True)
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in pairs])
        label = "(configured)" if ef == configured else ""
        if columns is not None:
            label = "(HNSW instead, for comparison)"
        timed = _timed(f"search {store:8} ef={ef:<4}", loaded, queries)
        print(f"{timed}  recall@10 vs exact {recall:.3f}  {label}")


def _timed(label: str, loaded: LoadedStore, queries: list[str]) -> str:
    times = []
    for query in queries:
        started = time.perf_counter()
        loaded.search(loaded.embed_query(query), 10)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return f"{label} p50 {times[len(times) // 2]:6.2f} ms  p99 {times[int(len(times) * 0.99)]:6.2f} ms"


def retrieval_quality(
    repository: KnowledgeRepository, store: str, cases: list[tuple[str, str]], label: str
) -> None:
    version = repository.current_version(store)
    assert version is not None
    loaded = LoadedStore(
        repository.version_dir(store, version), repository.new_embedder(), repository.settings.hnsw_ef_search
    )
    top1 = top5 = 0
    for question, doc_id in cases:
        ids = []
        for hit in loaded.search(loaded.embed_query(question), 20):
            if hit.doc_id not in ids:
                ids.append(hit.doc_id)
        top1 += bool(ids) and ids[0] == doc_id
        top5 += doc_id in ids[:5]
    n = len(cases)
    print(f"quality {label:42} n={n:4d}  hit@1 {top1 / n:6.1%}  hit@5 {top5 / n:6.1%}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the imported knowledge in this DATA_DIR")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse stores imported before")
    args = parser.parse_args()
    if not H39.exists() or not MEDQUAD.exists():
        raise SystemExit(f"the public data sets are expected under {SHARED}")

    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="medqa-bench-"))
    settings = Settings(data_dir=data_dir)
    repository = KnowledgeRepository(settings)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    ensure_starter_store(repository)
    if not (args.reuse and repository.current_version("h39") and repository.current_version("medquad")):
        import_store(repository, "h39", "health39", H39)
        import_store(repository, "medquad", "medquad", MEDQUAD)
    faiss.omp_set_num_threads(1)

    rng = random.Random(7)
    h39 = list(read_chunks(repository.version_dir("h39", repository.current_version("h39") or 0)))
    diseases = {c.doc_id: c.metadata for c in h39 if c.metadata.get("kind") == "disease"}
    sample = rng.sample(sorted(diseases.items()), min(500, len(diseases)))
    medquad_chunks = list(
        read_chunks(repository.version_dir("medquad", repository.current_version("medquad") or 0))
    )
    questions = {c.doc_id: c.title for c in medquad_chunks}
    mq_sample = rng.sample(sorted(questions.items()), min(500, len(questions)))

    latency_and_recall(repository, "h39", [f"{m['name']}有哪些症状" for _, m in sample])
    latency_and_recall(repository, "medquad", [q for _, q in mq_sample])
    name_cases = [(f"{m['name']}有哪些症状", i) for i, m in sample]
    retrieval_quality(repository, "h39", name_cases, "39health: 'X有哪些症状' -> disease X")
    symptom_cases = [("、".join(m["symptoms"][:4]), i) for i, m in sample if len(m.get("symptoms", [])) >= 3]
    retrieval_quality(repository, "h39", symptom_cases, "39health: symptom list -> its disease")
    retrieval_quality(
        repository, "medquad", [(q, i) for i, q in mq_sample], "MedQuAD: question -> its answer"
    )

    stores = ["diseases", "h39", "medquad"]
    qa_questions = [f"{m['name']}有哪些症状" for _, m in sample[:200]] + [q for _, q in mq_sample[:200]]
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
        f"non-2xx {qa.non_2xx}  -> {hello_share:.1%} of hello-world (target >= 20%), "
        f"{qa.requests_per_second / ping.requests_per_second:.1%} of the API hello-world"
    )
    print(
        f"single request, sequential: client p50 {statistics.median(latencies):.2f} ms, "
        f"pipeline p50 {statistics.median(server_ms):.2f} ms (target <= 5 ms)"
    )
    print(
        f"memory (PSS) with every store loaded: 1 worker {pss_one / 1024:.0f} MiB, 4 workers "
        f"{pss_four / 1024:.0f} MiB -> {pss_four / pss_one:.2f}x (target <= 1.5x)"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
