"""Clinical question answering: one question, a batch, or a streamed answer (SSE)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from backend.core.body import json_body, json_body_openapi
from backend.core.deps import AnswersDep, QADep, answers_of
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.knowledge.qa.pipeline import DISCLAIMER
from backend.core.knowledge.qa.schemas import QARequest, QAResponse
from backend.core.knowledge.store.repository import StoreNotFound
from backend.core.schemas import StrictModel

router = APIRouter(prefix="/api/v1/medical", tags=["question answering"], responses=ERROR_RESPONSES)
rate_limited(router, "qa")


@router.post(
    "/qa",
    summary="Answer a clinical question from the knowledge base and graph",
    response_model=QAResponse,
    openapi_extra=json_body_openapi(QARequest),
)
async def ask(request: Request) -> Response:
    # The hottest route: its body is read in one pass (json_body, same errors as a `body` parameter)
    # and its answers come from the request rather than a dependency for FastAPI to solve.
    body = await json_body(request, QARequest)
    # Built by us from a validated QAResponse (or the cache of one): serialised once, not re-validated.
    answer = await answers_of(request).answer(body, "doctor")
    return Response(orjson.dumps(answer), media_type="application/json")


class BatchRequest(StrictModel):
    # Items are validated one by one, so a bad item fails alone instead of failing the batch.
    questions: list[str | dict[str, Any]] = Field(
        min_length=1, max_length=100, description="Questions, or objects shaped like a /qa request"
    )


class BatchItem(BaseModel):
    ok: bool
    result: QAResponse | None = None
    error: dict[str, str] | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem]


@router.post("/qa/batch", summary="Answer several questions in parallel; one bad item fails alone")
async def ask_batch(body: BatchRequest, answers: AnswersDep, request: Request) -> BatchResponse:
    settings = request.app.state.settings
    if len(body.questions) > settings.qa_batch_max:
        raise AppError(422, f"At most {settings.qa_batch_max} questions per batch.")
    gate = asyncio.Semaphore(settings.qa_batch_concurrency)

    async def one(raw: str | dict[str, Any]) -> BatchItem:
        try:
            item = QARequest.model_validate({"question": raw} if isinstance(raw, str) else raw)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) or "question" for e in exc.errors())
            return BatchItem(ok=False, error={"code": "validation_error", "message": f"Invalid: {fields}"})
        async with gate:
            try:
                answer = await answers.answer(item, "doctor")
                return BatchItem(ok=True, result=QAResponse.model_validate(answer))
            except AppError as exc:
                return BatchItem(ok=False, error={"code": exc.code, "message": exc.message})

    return BatchResponse(results=list(await asyncio.gather(*(one(q) for q in body.questions))))


@router.post(
    "/qa/stream",
    summary="The same answer streamed as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def ask_stream(body: QARequest, qa: QADep) -> StreamingResponse:
    try:
        grounding = await qa.ground(body.question, body.stores, body.top_k, audience="doctor")
    except StoreNotFound as exc:
        raise AppError(404, f"Knowledge store not found: {exc}") from None

    async def events() -> AsyncIterator[bytes]:
        meta: dict[str, Any] = {
            "sources": [asdict(source) for source in grounding.sources],
            "entities": [{"name": e.name, "type": e.type} for e in grounding.entities],
            "intents": grounding.intents,
            "disclaimer": DISCLAIMER[grounding.language],
        }
        yield _sse("meta", meta)
        async for event, text in qa.stream(body.question, grounding, audience="doctor"):
            if event == "done":
                yield _sse("done", {"degraded": text == "degraded", "mode": text})
            else:
                yield _sse("delta", {"text": text})

    # X-Accel-Buffering: proxies (nginx and alike) pass each event on at once instead of buffering.
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
