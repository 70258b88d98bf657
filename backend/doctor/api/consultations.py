"""The doctors' inbox: pre-consultation summaries patients submitted, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from backend.core.consultations import Status
from backend.core.deps import ConsultationsDep
from backend.core.errors import ERROR_RESPONSES, AppError
from backend.core.guard import rate_limited
from backend.core.schemas import StrictModel
from backend.doctor.deps import AuthDep, CurrentUserDep

router = APIRouter(prefix="/api/v1/consultations", tags=["consultations"], responses=ERROR_RESPONSES)
rate_limited(router, "default")

RecordId = Annotated[str, Path(min_length=1, max_length=64)]


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class StatusChange(StrictModel):
    status: Status


@router.get("", summary="Submitted summaries, newest first; filter by department and status")
async def inbox(
    consultations: ConsultationsDep,
    user: CurrentUserDep,
    auth: AuthDep,
    department: Annotated[str | None, Query(max_length=50)] = None,
    status: Status | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page:
    items, total = await consultations.list(
        department=department, status=status, page=page, page_size=page_size
    )
    # Logged before the records leave: a read that cannot be audited does not happen (503).
    if items:
        await auth.record(user, "consultation.list", [str(item["id"]) for item in items])
    return Page(items=items, total=total, page=page, page_size=page_size)


@router.get("/{record_id}", summary="One summary")
async def read(
    record_id: RecordId, consultations: ConsultationsDep, user: CurrentUserDep, auth: AuthDep
) -> dict[str, Any]:
    record = await consultations.get(record_id)
    if record is None:
        raise AppError(404, "No such consultation, or it is past its retention period.")
    await auth.record(user, "consultation.read", [record_id])
    return record


@router.post("/{record_id}/status", summary="Mark a summary new, seen or done")
async def set_status(
    record_id: RecordId,
    body: StatusChange,
    consultations: ConsultationsDep,
    user: CurrentUserDep,
    auth: AuthDep,
) -> dict[str, Any]:
    record = await consultations.set_status(record_id, body.status)
    if record is None:
        raise AppError(404, "No such consultation, or it is past its retention period.")
    await auth.record(user, f"consultation.status.{body.status}", [record_id])
    return record
