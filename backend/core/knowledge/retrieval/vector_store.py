"""One version of one knowledge store on disk, and the loaded, searchable form of it.

A version is a directory written once and never changed:
    vectors.npy   small and medium stores: the chunk vectors, one row per dimension, for exact search
    index.faiss   large stores: a FAISS HNSW index over the chunk vectors
    chunks.jsonl  one JSON object per chunk, in index order (plain data: nothing executes on load)
    offsets.npy   byte offset of each chunk line, so a hit is read with one pread
    embedder.npz  the embedder's fitted state (e.g. IDF)
    records.jsonl the structured disease records among its documents, for the knowledge graph
    meta.json     store name, version, embedder identity, index type, counts
Loading maps either file (np.load mmap_mode, FAISS IO_FLAG_MMAP_IFC), so every worker shares one copy
in the page cache.

Why exact search is column-major: the default embedder's query vectors are sparse (a question has
a few dozen n-gram buckets of thousands), and a column-major matrix lets exact search read only
those rows: cost nnz x chunks instead of dim x chunks. Up to EXACT_INDEX_MAX_VECTORS (20,000)
chunks that is faster than HNSW at ef=64 and, being exact, finds what HNSW misses (bench/knowledge.py
prints both). A dense query (a model embedder) falls back to one matrix-vector product.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel

from backend.core.knowledge.retrieval.embeddings import EmbedderMismatch, StoreEmbedder, Vectors
from backend.core.knowledge.store.documents import Chunk

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64  # default of HNSW_EF_SEARCH: recall vs exact and latency in bench/knowledge.py


class StoreInfo(BaseModel):
    name: str
    version: int
    documents: int
    chunks: int
    index_type: str
    embedder: str
    built_at: float = 0.0
    cjk_share: float = 0.5  # share of CJK among letters in its text: which questions it can answer


@dataclass(frozen=True, slots=True)
class Hit:
    store: str
    doc_id: str
    title: str
    text: str
    score: float
    metadata: dict[str, Any]


# A query with nonzeros in at most this share of its dimensions reads only those rows.
SPARSE_QUERY_SHARE = 0.25
# Chunks scored per step of a sparse query: the rows it reads are copied out a block at a time, so
# the copy stays small (a full one would be megabytes per search, and each search thread's malloc
# arena would keep that much resident in every worker). 2048 holds a worker's private memory to what
# it was with HNSW (smaps, bench mix) for a few percent of search time against 4096.
EXACT_BLOCK = 2048


def write_index(directory: Path, vectors: Vectors, exact_max: int) -> str:
    """Exact search up to `exact_max` vectors, HNSW beyond (recall measured in bench/); the kind."""
    if len(vectors) <= exact_max:
        np.save(directory / "vectors.npy", np.ascontiguousarray(vectors.T))
        return "flat"
    faiss.write_index(build_hnsw(vectors), str(directory / "index.faiss"))
    return "hnsw"


def build_hnsw(vectors: Vectors) -> Any:
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(vectors)
    return index


def exact_search(columns: Vectors, query: Vectors, top_k: int) -> tuple[Vectors, npt.NDArray[np.int64]]:
    """The `top_k` best (scores, positions) by inner product, best first; `columns` is dim x chunks."""
    vector = query[0]
    nonzero = np.flatnonzero(vector)
    if len(nonzero) <= SPARSE_QUERY_SHARE * len(vector):
        weights = vector[nonzero]
        scores = np.empty(columns.shape[1], dtype=np.float32)
        for start in range(0, len(scores), EXACT_BLOCK):
            scores[start : start + EXACT_BLOCK] = weights @ columns[nonzero, start : start + EXACT_BLOCK]
    else:
        scores = vector @ columns
    k = min(top_k, len(scores))
    best = np.argpartition(scores, len(scores) - k)[len(scores) - k :] if k < len(scores) else np.arange(k)
    best = best[np.argsort(-scores[best], kind="stable")]
    return scores[best], best


def write_version(
    directory: Path,
    info: StoreInfo,
    chunks: Sequence[Chunk],
    vectors: Vectors,
    embedder: StoreEmbedder,
    exact_max: int,
) -> StoreInfo:
    """Write a complete version into `directory` (which the caller then publishes atomically)."""
    directory.mkdir(parents=True)
    kind = write_index(directory, vectors, exact_max)
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    with (directory / "chunks.jsonl").open("wb") as out:
        for i, chunk in enumerate(chunks):
            out.write(orjson.dumps(chunk.model_dump()) + b"\n")
            offsets[i + 1] = out.tell()
    np.save(directory / "offsets.npy", offsets)
    with (directory / "records.jsonl").open("wb") as out:
        seen: set[str] = set()
        for chunk in chunks:
            if chunk.metadata.get("kind") == "disease" and chunk.doc_id not in seen:
                seen.add(chunk.doc_id)
                out.write(orjson.dumps({**chunk.metadata, "id": chunk.doc_id}) + b"\n")
    state: dict[str, Any] = dict(embedder.state())
    np.savez(directory / "embedder.npz", **state)
    update = {
        "index_type": kind,
        "chunks": len(chunks),
        "built_at": time.time(),
        "cjk_share": cjk_share(chunks),
    }
    info = info.model_copy(update=update)
    (directory / "meta.json").write_text(info.model_dump_json(indent=2))
    return info


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def cjk_share(chunks: Sequence[Chunk], sample: int = 2000) -> float:
    step = max(1, len(chunks) // sample)
    text = "".join(chunk.text for chunk in chunks[::step])
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    return round(cjk / (cjk + latin), 3) if cjk + latin else 0.5


def read_chunks(directory: Path) -> Iterator[Chunk]:
    with (directory / "chunks.jsonl").open("rb") as source:
        for line in source:
            yield Chunk.model_validate(orjson.loads(line))


def read_info(directory: Path) -> StoreInfo:
    return StoreInfo.model_validate_json((directory / "meta.json").read_text())


class LoadedStore:
    """A version opened for search. Thread-safe: FAISS CPU search and os.pread need no lock."""

    _fd = -1  # so close() is safe when __init__ failed before opening the file

    def __init__(self, directory: Path, embedder: StoreEmbedder, ef_search: int = HNSW_EF_SEARCH) -> None:
        self.directory = directory
        self.info = read_info(directory)
        if self.info.embedder != embedder.identity:
            raise EmbedderMismatch(
                f"store {self.info.name!r} was built with embedder {self.info.embedder!r}, but "
                f"{embedder.identity!r} is configured; rebuild the store or set EMBEDDER back"
            )
        with np.load(directory / "embedder.npz") as state:
            embedder.load_state({key: state[key] for key in state.files})
        self.embedder = embedder
        self.index: Any = None  # HNSW, for large stores
        self.columns: Vectors | None = None  # exact search, for the others
        if self.info.index_type == "hnsw":
            self.index = faiss.read_index(str(directory / "index.faiss"), faiss.IO_FLAG_MMAP_IFC)
            self.index.hnsw.efSearch = ef_search
        elif (directory / "vectors.npy").exists():
            # A plain array over the mapping: np.memmap's Python-level __getitem__ costs per search.
            self.columns = np.load(directory / "vectors.npy", mmap_mode="r").view(np.ndarray)
        else:
            # Written before vectors.npy existed: a FAISS IndexFlatIP, small enough to transpose here.
            flat = faiss.read_index(str(directory / "index.faiss"))
            self.columns = np.ascontiguousarray(flat.reconstruct_n(0, flat.ntotal).T)
        self._offsets = np.load(directory / "offsets.npy", mmap_mode="r")
        # The open descriptor keeps this version readable even after a newer one replaces it.
        self._fd = os.open(directory / "chunks.jsonl", os.O_RDONLY)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version

    def embed_query(self, text: str) -> Vectors:
        return self.embedder.embed_array([text])

    def hit(self, position: int, score: float) -> Hit:
        # The file is ours and was validated when written: plain orjson is enough (and 5x cheaper).
        start, end = int(self._offsets[position]), int(self._offsets[position + 1])
        row = orjson.loads(os.pread(self._fd, end - start, start))
        return Hit(self.name, row["doc_id"], row["title"], row["text"], score, row.get("metadata") or {})

    def search(self, query: Vectors, top_k: int) -> list[Hit]:
        return [self.hit(position, score) for score, position in self.rank(query, top_k)]

    def rank(self, query: Vectors, top_k: int) -> list[tuple[float, int]]:
        """The best (score, position) pairs, best first: a search without reading the chunks, for
        merging several stores before reading only the winners."""
        if self.info.chunks == 0:
            return []
        if self.columns is not None:
            scores, positions = exact_search(self.columns, query, top_k)
        else:
            found_scores, found_positions = self.index.search(query, min(top_k, self.info.chunks))
            scores, positions = found_scores[0], found_positions[0]
        return [(float(s), int(p)) for s, p in zip(scores, positions, strict=True) if p >= 0]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
