"""Triage benchmark: quality on real patients' wording, and pre-consultation session throughput.

    python -m bench.triage [--seconds 10] [--no-h39] [--no-toyhom] [--no-throughput]

1. CMtMedQA dev split (../shared/data/cmtmedqa-dev: 400 real first messages with coarse
   departments; bench/cmtmedqa_departments.py maps our taxonomy onto its labels): top-1, top-3 and
   macro-F1 with the starter knowledge base alone, and again with the 39健康网 disease table
   imported (its 14k records also train the department model). Targets on the starter knowledge
   base: top-1 >= 0.65, top-3 >= 0.88, macro-F1 >= 0.55.
2. Toyhom (../shared/data/toyhom-chinese-medical-dialogue: 7.6k internal-medicine questions with
   sub-departments, bench/toyhom_departments.py): top-1, top-3, macro-F1, as before.
3. Red flags: recall per class and false alarms on the probe set (bench/red_flags.py).
4. Pre-consultation: turns to a submittable summary over scripted dialogues (bench/dialogue.py).
5. Throughput: the patient service under gunicorn with 4 workers; simulated patients each run a
   whole dialogue (create, messages, submit) for a fixed time. Prints sessions and messages per
   second and message latency.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from backend.core.config import Settings
from backend.core.knowledge.importers import FORMATS
from backend.core.knowledge.service import KnowledgeService
from backend.core.knowledge.store.documents import Document
from backend.devstack.processes import stop
from backend.patient.services.triage import triage
from bench import cmtmedqa_departments, dialogue, red_flags, toyhom_departments
from bench.stack import serve

H39 = toyhom_departments.PROJECT_ROOT.parent / "shared" / "data" / "qasystemonmedicalgraph-39health"
# Complaint, how long, how bad, three symptom questions, age and sex (a man: no pregnancy question),
# past illnesses, allergies and medicines at once: a submittable summary in eight messages.
DIALOGUE = ["我咳嗽，还有点发热", "三天了", "5分", "没有", "有", "没有", "35岁，男", "没有"]
PATIENTS = 16  # concurrent simulated patients


def macro_f1(predicted: list[str], golds: list[str]) -> float:
    f1s = []
    for label in sorted(set(golds)):
        tp = sum(p == g == label for p, g in zip(predicted, golds, strict=True))
        fp = sum(p == label != g for p, g in zip(predicted, golds, strict=True))
        fn = sum(g == label != p for p, g in zip(predicted, golds, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return statistics.mean(f1s)


async def score(
    knowledge: KnowledgeService,
    cases: list[tuple[str, str]],
    labels: Callable[[list[str]], list[str]],
    title: str,
) -> None:
    """Top-1, top-3 and macro-F1 of the departments triage shows, as `labels` names them."""
    top1 = top3 = 0
    predicted: list[str] = []
    confident: list[bool] = []
    started = time.perf_counter()
    for complaint, gold in cases:
        result = await triage(knowledge, complaint[:1000], language="zh")
        ranked = labels([d.name for d in result.departments]) or ["?"]
        top1 += ranked[0] == gold
        top3 += gold in ranked[:3]
        predicted.append(ranked[0])
        confident.append(result.departments[0].score >= 0.5 and not result.weak)
    seconds = time.perf_counter() - started
    golds = [gold for _, gold in cases]
    n = len(cases)
    right_when_confident = [p == g for p, g, c in zip(predicted, golds, confident, strict=True) if c]
    print(f"{title} (n={n}, {len(set(golds))} labels, {seconds / n * 1000:.1f} ms per complaint)")
    print(
        f"  top-1 {top1 / n:.3f}   top-3 {top3 / n:.3f}   macro-F1 {macro_f1(predicted, golds):.3f}   "
        f"calibration: {len(right_when_confident)} answers at >= 0.5, "
        f"{statistics.mean(right_when_confident) if right_when_confident else 0:.0%} of them right"
    )


async def import_h39(knowledge: KnowledgeService) -> None:
    started = time.perf_counter()
    documents = [item for item in FORMATS["health39"](H39 / "disease.utf8.csv") if isinstance(item, Document)]
    await asyncio.to_thread(knowledge.indexer.upsert, "h39", documents)
    await knowledge.refresh()
    print(f"imported the 39健康网 table: {len(documents)} diseases in {time.perf_counter() - started:.1f} s")


async def quality(with_h39: bool, with_toyhom: bool) -> None:
    cmt = cmtmedqa_departments.load_cases()
    with tempfile.TemporaryDirectory() as data_dir:
        knowledge = KnowledgeService(Settings(data_dir=Path(data_dir), log_level="WARNING"), "bench")
        await knowledge.start()
        await score(
            knowledge, cmt, cmtmedqa_departments.coarse_ranking, "CMtMedQA dev, starter knowledge base"
        )
        print("  targets: top-1 >= 0.65, top-3 >= 0.88, macro-F1 >= 0.55")
        if with_toyhom and toyhom_departments.DATA_ROOT.exists():
            toyhom = toyhom_departments.load_cases(toyhom_departments.DATA_ROOT)
            await score(knowledge, toyhom, lambda names: names, "Toyhom, starter knowledge base")
            common = Counter(gold for _, gold in toyhom).most_common(3)
            print(
                "  largest labels: "
                + ", ".join(f"{label} {count / len(toyhom):.0%}" for label, count in common)
            )
        started = time.perf_counter()
        dialogue.report(await dialogue.measure(knowledge), time.perf_counter() - started, verbose=False)
        if with_h39 and H39.exists():
            await import_h39(knowledge)
            await score(
                knowledge, cmt, cmtmedqa_departments.coarse_ranking, "CMtMedQA dev, starter + 39健康网"
            )


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
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-h39", action="store_true", help="skip the run with the 39健康网 table")
    parser.add_argument("--no-toyhom", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args()
    if not cmtmedqa_departments.DATA_PATH.exists():
        raise SystemExit(f"the CMtMedQA dev split is expected at {cmtmedqa_departments.DATA_PATH}")
    red_flags.print_report(red_flags.evaluate(), details=False)
    asyncio.run(quality(not args.no_h39, not args.no_toyhom))
    if args.no_throughput:
        return
    with tempfile.TemporaryDirectory() as data_dir:
        base, process = serve("backend.patient.app:app", data_dir)
        try:
            asyncio.run(throughput(base, args.seconds))
        finally:
            stop(process, signal.SIGTERM)


if __name__ == "__main__":
    main()
