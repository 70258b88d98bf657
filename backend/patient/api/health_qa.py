"""Patients' health questions: plain-language answers from the same knowledge pipeline, made safe."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import Field

from backend.core.deps import answers_of
from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.core.knowledge.qa.schemas import QARequest, QAResponse
from backend.core.schemas import StrictModel
from backend.core.text import CleanText, detect_language
from backend.patient.api.triage import RedFlagOut
from backend.patient.services.red_flags import detect_red_flags, emergency_advice

router = APIRouter(prefix="/api/v1/health", tags=["health questions"], responses=ERROR_RESPONSES)
rate_limited(router, "health")

SEE_A_DOCTOR = {
    "zh": "如果症状持续、加重，或您对自己的情况不放心，请到医院就诊。",
    "en": "If symptoms persist or get worse, or you are worried about your condition, see a doctor.",
}


class HealthQuestion(StrictModel):
    question: CleanText = Field(min_length=1, max_length=500)


class HealthAnswer(QAResponse):
    emergency: bool
    red_flags: list[RedFlagOut]
    see_a_doctor: str


@router.post("/qa", summary="Answer a health question in plain language", response_model=HealthAnswer)
async def ask(body: HealthQuestion, request: Request) -> Response:
    language = detect_language(body.question)
    flags, answer = await asyncio.gather(
        asyncio.to_thread(detect_red_flags, body.question),
        answers_of(request).answer(QARequest(question=body.question), "patient"),
    )
    if flags:  # emergency advice comes before anything else the answer says
        answer["answer"] = emergency_advice(flags, language) + "\n\n" + answer["answer"]
    zh = language == "zh"
    answer["emergency"] = bool(flags)
    answer["red_flags"] = [{"code": f.code, "name": f.name if zh else f.name_en} for f in flags]
    answer["see_a_doctor"] = SEE_A_DOCTOR[language]
    return Response(orjson.dumps(answer), media_type="application/json")
