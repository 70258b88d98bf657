"""Stateless triage, and the department taxonomy it answers with."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.core.deps import KnowledgeDep
from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.core.knowledge.graph.departments import display_name
from backend.core.schemas import StrictModel
from backend.core.text import CleanText
from backend.patient.services.triage import DISCLAIMER, TriageResult, triage

router = APIRouter(prefix="/api/v1", tags=["triage"], responses=ERROR_RESPONSES)
rate_limited(router, "default")

Sex = Literal["male", "female"]


class TriageRequest(StrictModel):
    complaint: CleanText = Field(
        min_length=1, max_length=1000, description="What is wrong, in the patient's words"
    )
    age: float | None = Field(None, ge=0, le=130, description="Years (0.1 for a five-week-old baby)")
    sex: Sex | None = None
    pregnant: bool | None = Field(None, description="Pregnant or possibly pregnant (a late period counts)")


class ScoredOut(BaseModel):
    name: str
    score: float


class RedFlagOut(BaseModel):
    code: str
    name: str


class StepOut(BaseModel):
    step: str = Field(description="red_flags, who, where, conditions, model or decision")
    text: str


class TriageResponse(BaseModel):
    departments: list[ScoredOut] = Field(
        description="Best first; each score is a calibrated probability that the department is right"
    )
    possible_conditions: list[ScoredOut]
    red_flags: list[RedFlagOut]
    emergency: bool
    weak: bool = Field(description="Nothing pointed clearly to a department: general practice first")
    advice: str
    explanation: list[StepOut] = Field(description="How the result was reached, step by step")
    disclaimer: str

    @classmethod
    def of(cls, result: TriageResult) -> TriageResponse:
        zh = result.language == "zh"
        return cls(
            departments=[
                ScoredOut(name=display_name(d.name, result.language), score=d.score)
                for d in result.departments
            ],
            possible_conditions=[ScoredOut(name=c.name, score=c.score) for c in result.possible_conditions],
            red_flags=[RedFlagOut(code=f.code, name=f.name if zh else f.name_en) for f in result.red_flags],
            emergency=result.emergency,
            weak=result.weak,
            advice=result.advice,
            explanation=[StepOut(step=step.code, text=step.text) for step in result.explanation],
            disclaimer=DISCLAIMER[result.language],
        )


@router.post("/triage", summary="Which department to see, possible conditions, and emergency red flags")
async def triage_complaint(body: TriageRequest, knowledge: KnowledgeDep) -> TriageResponse:
    return TriageResponse.of(
        await triage(knowledge, body.complaint, body.age, body.sex, pregnant=body.pregnant)
    )
