"""The department taxonomy: what triage answers with and what the doctors' inbox is filtered by."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.core.knowledge.graph.departments import Department, departments

router = APIRouter(prefix="/api/v1", tags=["departments"], responses=ERROR_RESPONSES)
rate_limited(router, "default")


class DepartmentsResponse(BaseModel):
    departments: list[Department]


@router.get("/departments", summary="Standard hospital departments, with their English names")
async def list_departments() -> DepartmentsResponse:
    return DepartmentsResponse(departments=list(departments()))
