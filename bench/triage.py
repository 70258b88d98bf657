"""Triage benchmark: quality on real complaints, and pre-consultation session throughput.

    python -m bench.triage [--cases N] [--seconds 10]

1. Quality: the `ask` of every row of ../shared/data/toyhom-chinese-medical-dialogue is triaged on
   the starter knowledge base; its `department` label, mapped onto our taxonomy
   (bench/toyhom_departments.py), is the answer. Prints top-1 and top-3 accuracy and the macro-F1
   of the top department over the labels that occur.
2. Throughput: the patient service under gunicorn with 4 workers; simulated patients each run a
   whole dialogue (create, eight messages, submit) for a fixed time. Prints sessions and messages
   per second and message latency.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from backend.core.config import Settings
from backend.core.knowledge.service import KnowledgeService
from backend.devstack.processes import stop
from backend.patient.services.triage import triage
from bench.stack import serve
from bench.toyhom_departments import DATA_ROOT, load_cases

# Complaint, how long, how bad, three symptom questions, age and sex (a man: no pregnancy question),
# past illnesses, allergies and medicines at once: a submittable summary in eight messages.
DIALOGUE = ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有", "没有", "35岁，男", "没有"]
PATIENTS = 16  # concurrent simulated patients


async def quality(cases: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        knowledge = KnowledgeService(Settings(data_dir=Path(data_dir), log_level="WARNING"), "bench")
        await knowledge.start()
        top1 = top3 = 0
        predicted: list[str] = []
        started = time.perf_counter()
        for complaint, gold in cases:
            result = await triage(knowledge, complaint[:1000], language="zh")
            names = [d.name for d in result.departments]
            top1 += bool(names) and names[0] == gold
            top3 += gold in names[:3]
            predicted.append(names[0] if names else "")
        seconds = time.perf_counter() - started
    golds = [gold for _, gold in cases]
    f1s = []
    for label in sorted(set(golds)):
        tp = sum(p == g == label for p, g in zip(predicted, golds, strict=True))
        fp = sum(p == label != g for p, g in zip(predicted, golds, strict=True))
        fn = sum(g == label != p for p, g in zip(predicted, golds, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    n = len(cases)
    print(
        f"triage quality on toyhom (n={n}, {len(f1s)} departments, {seconds / n * 1000:.1f} ms per complaint)"
    )
    print(
        f"  top-1 accuracy {top1 / n:.1%}   top-3 accuracy {top3 / n:.1%}   "
        f"macro-F1 {statistics.mean(f1s):.3f}"
    )
    common = Counter(golds).most_common(3)
    print("  largest labels: " + ", ".join(f"{label} {count / n:.0%}" for label, count in common))


async def one_patient(client: httpx.AsyncClient, latencies: list[float]) -> int:
    created = (await client.post("/api/v1/sessions")).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    path = f"/api/v1/sessions/{created['session_id']}"
    for text in DIALOGUE:
        started = time.perf_counter()
        response = await client.post(f"{path}/messages", json={"text": text}, headers=auth)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    (await client.post(f"{path}/submit", headers=auth)).raise_for_status()
    return len(DIALOGUE)


async def throughput(base: str, seconds: float) -> None:
    latencies: list[float] = []
    sessions = messages = 0
    deadline = time.monotonic() + seconds

    async def patient_loop() -> None:
        nonlocal sessions, messages
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                # Awaited first: `messages += await ...` would read `messages` before the await.
                sent = await one_patient(client, latencies)
                messages += sent
                sessions += 1

    started = time.monotonic()
    await asyncio.gather(*(patient_loop() for _ in range(PATIENTS)))
    elapsed = time.monotonic() - started
    latencies.sort()
    print(f"session throughput: 4 workers, {PATIENTS} concurrent patients, {elapsed:.1f} s")
    print(
        f"  {sessions / elapsed:.1f} complete dialogues/s ({messages / elapsed:.0f} messages/s), message p50 "
        f"{latencies[len(latencies) // 2]:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=0, help="sample this many cases (0: all)")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not DATA_ROOT.exists():
        raise SystemExit(f"the toyhom data set is expected under {DATA_ROOT}")
    cases = load_cases(DATA_ROOT)
    if args.cases:
        cases = random.Random(7).sample(cases, min(args.cases, len(cases)))
    asyncio.run(quality(cases))

    with tempfile.TemporaryDirectory() as data_dir:
        base, process = serve("backend.patient.app:app", data_dir)
        try:
            asyncio.run(throughput(base, args.seconds))
        finally:
            stop(process, signal.SIGTERM)


if __name__ == "__main__":
    main()
