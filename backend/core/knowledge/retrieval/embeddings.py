"""Embedders behind langchain-core's `Embeddings` interface.

The default, `HashingEmbeddings`, needs no model and no network: signed, hashed character n-grams
(CJK unigrams, and bigrams and trigrams of any script) weighted by sub-linear TF and an IDF fitted
on the store's own chunks, L2-normalised so inner product is cosine similarity. It is
deterministic across processes and machines (no Python `hash()`), suits Chinese and English
alike, and embeds a question in tens of microseconds with numpy.

Optional backends: a sentence-transformers model from a local path, and an OpenAI-compatible
/v1/embeddings endpoint. Each embedder has an `identity`; a store records the identity it was
built with and refuses to be searched with another.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings

from backend.core.config import Settings

Vectors = npt.NDArray[np.float32]

_CJK_START = 0x2E80  # CJK radicals onwards: one character already carries meaning
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


class EmbedderMismatch(RuntimeError):
    """A store was built by another embedder than the one configured now."""


class StoreEmbedder(Protocol):
    identity: str
    dim: int
    corpus_fitted: bool  # True when vectors depend on the corpus (IDF): re-embed on every rebuild

    def fit(self, texts: Sequence[str]) -> None: ...
    def embed_array(self, texts: Sequence[str]) -> Vectors: ...
    def state(self) -> dict[str, npt.NDArray[Any]]: ...
    def load_state(self, state: dict[str, npt.NDArray[Any]]) -> None: ...


# English words that carry no topic: without this, "What is the ..." matches every English passage.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "and",
        "or",
        "but",
        "not",
        "no",
        "if",
        "so",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "there",
        "here",
        "about",
        "into",
        "over",
        "under",
        "again",
        "very",
        "just",
        "any",
        "some",
        "all",
        "each",
        "more",
        "most",
        "other",
        "such",
        "only",
        "own",
        "same",
        "too",
        "also",
        "get",
        "got",
    ]
)
_TOKENS = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]+|[^\W_]+")


def _normalise(text: str) -> list[str]:
    """Runs of CJK characters, and Latin/digit words without stopwords, in reading order."""
    text = unicodedata.normalize("NFKC", text).lower()
    return [token for token in _TOKENS.findall(text) if token not in _STOPWORDS]


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finaliser: spreads neighbouring code points over all buckets, deterministically.
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * _M2
        values = (values ^ (values >> np.uint64(27))) * _M3
        return values ^ (values >> np.uint64(31))


def hashed_ngrams(text: str) -> npt.NDArray[np.uint64]:
    """The hashed features of one text (before bucketing).

    CJK runs give character uni-, bi- and trigrams (a character already carries meaning).
    A Latin word gives itself plus the bi- and trigrams of "#word#", so inflections still meet.
    All tokens go through numpy at once, joined by NUL, and n-grams that cross a NUL are dropped.
    """
    tokens = _normalise(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    latin = [token for token in tokens if ord(token[0]) < _CJK_START]
    joined = "\0".join(token if ord(token[0]) >= _CJK_START else f"#{token}#" for token in tokens)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    inside = cps != 0
    with np.errstate(over="ignore"):
        bigrams = ((cps[:-1] * _M1 + cps[1:]) * _M2 + np.uint64(1))[inside[:-1] & inside[1:]]
        trigrams = (((cps[:-2] * _M1 + cps[1:-1]) * _M2 + cps[2:]) * _M3 + np.uint64(2))[
            inside[:-2] & inside[1:-1] & inside[2:]
        ]
        unigrams = cps[cps >= _CJK_START] * _M1
        words = np.array([zlib.crc32(word.encode()) for word in latin], dtype=np.uint64) * _M3 + np.uint64(3)
    return _mix(np.concatenate([unigrams, bigrams, trigrams, words]))


def _sparse_tf(
    text: str, dim: int, memo: bool = True
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    if memo:
        return _sparse_tf_memo(text, dim)
    features = hashed_ngrams(text)
    buckets, inverse = np.unique((features % np.uint64(dim)).astype(np.int64), return_inverse=True)
    counts = np.bincount(inverse, minlength=buckets.size).astype(np.float32)
    signs = np.where((features >> np.uint64(63)) == 1, -1.0, 1.0)
    signed = np.bincount(inverse, weights=signs, minlength=buckets.size)
    # Sub-linear TF keeps long passages from drowning short questions; the sign is the majority's.
    tf = (np.sign(signed) * (1 + np.log(counts))).astype(np.float32)
    keep = tf != 0
    return buckets[keep], tf[keep]


@functools.lru_cache(maxsize=256)
def _sparse_tf_memo(text: str, dim: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    buckets, tf = _sparse_tf(text, dim, memo=False)
    buckets.setflags(write=False)  # shared between callers: nobody may change it
    tf.setflags(write=False)
    return buckets, tf


class ArrayEmbeddings(Embeddings):
    """langchain-core's interface over `embed_array`; embedders that need no fitting keep the defaults."""

    identity: str
    dim: int
    corpus_fitted = False

    def embed_array(self, texts: Sequence[str]) -> Vectors:
        raise NotImplementedError

    def fit(self, texts: Sequence[str]) -> None:
        return None

    def state(self) -> dict[str, npt.NDArray[Any]]:
        return {}

    def load_state(self, state: dict[str, npt.NDArray[Any]]) -> None:
        return None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()  # type: ignore[no-any-return]


class HashingEmbeddings(ArrayEmbeddings):
    corpus_fitted = True

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim
        self.identity = f"hashing-v1/dim={dim}"
        self.idf = np.ones(dim, dtype=np.float32)

    def fit(self, texts: Sequence[str]) -> None:
        document_frequency = np.zeros(self.dim, dtype=np.float64)
        for text in texts:
            document_frequency[np.unique(hashed_ngrams(text) % np.uint64(self.dim)).astype(np.int64)] += 1
        n = len(texts)
        self.idf = (np.log((n + 1) / (document_frequency + 1)) + 1).astype(np.float32)

    def embed_array(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        memo = len(texts) == 1  # a question: every store embeds it again with its own IDF
        for row, text in enumerate(texts):
            buckets, tf = _sparse_tf(text, self.dim, memo=memo)
            if buckets.size == 0:
                continue
            # Only the non-zero buckets are computed: a question touches a few dozen of thousands.
            values = tf * self.idf[buckets]
            norm = float(np.sqrt(np.dot(values, values)))
            if norm > 0:
                out[row, buckets] = values / norm
        return out

    def state(self) -> dict[str, npt.NDArray[Any]]:
        return {"idf": self.idf}

    def load_state(self, state: dict[str, npt.NDArray[Any]]) -> None:
        self.idf = state["idf"].astype(np.float32)


class SentenceTransformerEmbeddings(ArrayEmbeddings):
    """A sentence-transformers model read from a local directory; nothing is downloaded."""

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import SentenceTransformer  # optional dependency

        self._model = SentenceTransformer(model_path, local_files_only=True, device="cpu")
        self.dim = int(self._model.get_sentence_embedding_dimension())
        self.identity = f"sentence-transformers/{model_path.rstrip('/').rsplit('/', 1)[-1]}/dim={self.dim}"

    def embed_array(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


class OpenAIEmbeddings(ArrayEmbeddings):
    """An OpenAI-compatible /v1/embeddings endpoint (EMBEDDING_BASE_URL includes /v1)."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 30.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
            timeout=timeout,
        )
        self._model = model
        self.dim = len(self._request(["dimension probe"])[0])
        self.identity = f"openai/{model}/dim={self.dim}"

    def _request(self, texts: Sequence[str]) -> list[list[float]]:
        response = self._client.post("/embeddings", json={"model": self._model, "input": list(texts)})
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        return [item["embedding"] for item in data]

    def embed_array(self, texts: Sequence[str]) -> Vectors:
        rows: list[list[float]] = []
        for start in range(0, len(texts), 64):
            rows.extend(self._request(texts[start : start + 64]))
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def create_embedder(settings: Settings) -> StoreEmbedder:
    """A fresh embedder as configured; a store loads its fitted state into it."""
    if settings.embedder == "sentence-transformers":
        return SentenceTransformerEmbeddings(settings.embedding_model_path)
    if settings.embedder == "openai":
        return OpenAIEmbeddings(settings.embedding_base_url, settings.embedding_model, settings.llm_api_key)
    return HashingEmbeddings(settings.embedding_dim)
