"""A question's API answer, through the tiered cache: what the QA routes of both services return."""

from __future__ import annotations

import time
from typing import Any

from backend.core.cache.tiered import Computed, TieredCache, normalise
from backend.core.errors import AppError
from backend.core.knowledge.qa.pipeline import DISCLAIMER, Audience, QAPipeline
from backend.core.knowledge.qa.safety import without_doses, without_drug_lists
from backend.core.knowledge.qa.schemas import QARequest, QAResponse
from backend.core.knowledge.store.repository import StoreNotFound


class Answers:
    """The QA pipeline behind the tiered cache: one dependency for the routes that answer."""

    def __init__(self, qa: QAPipeline, cache: TieredCache) -> None:
        self.qa = qa
        self.cache = cache

    async def answer(self, body: QARequest, audience: Audience) -> dict[str, Any]:
        """The QAResponse as a dict; `cached` says whether this request reused an earlier computation."""
        started = time.perf_counter()

        parts = [audience, normalise(body.question), sorted(body.stores or []), body.top_k]
        try:
            value, cached = await self.cache.get_or_compute(
                "qa", parts, lambda: self._compute(body, audience)
            )
        except StoreNotFound as exc:
            raise AppError(404, f"Knowledge store not found: {exc}") from None
        # A new dict either way: the cache holds `value` itself, and callers may add to what they get.
        if cached:
            return {**value, "cached": True, "took_ms": round((time.perf_counter() - started) * 1000, 2)}
        return {**value}

    async def _compute(self, body: QARequest, audience: Audience) -> Computed:
        answer = await self.qa.answer(body.question, body.stores, body.top_k, audience=audience)
        language = answer.grounding.language
        response = QAResponse.of(answer, DISCLAIMER[language])
        if audience == "patient":
            response.answer = without_doses(without_drug_lists(response.answer), language)
            for source in response.sources:
                source.snippet = without_doses(without_drug_lists(source.snippet), language)
        return Computed(
            response.model_dump(mode="json"),
            empty=answer.mode == "not_found",
            cacheable=not answer.degraded,  # a model's failure (LLM or embedding) must not outlive itself
        )
