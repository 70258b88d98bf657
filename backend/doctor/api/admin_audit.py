"""The audit log for admins: who read or changed which record, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.doctor.deps import AuthDep, admin_user

router = APIRouter(
    prefix="/api/v1/admin/audit",
    tags=["audit"],
    dependencies=[Depends(admin_user)],
    responses=ERROR_RESPONSES,
)
rate_limited(router, "default")


class AuditEntry(BaseModel):
    id: str
    at: float
    actor: str
    role: str
    action: str
    record: str


class AuditPage(BaseModel):
    entries: list[AuditEntry]


@router.get("", summary="Audit entries newest first; filter by actor or record; page with `before`")
async def audit(
    auth: AuthDep,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    record: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[str | None, Query(pattern=r"^\d{1,15}-\d{1,10}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    entries = await auth.audit.query(actor=actor, record=record, before=before, limit=limit)
    return AuditPage(entries=[AuditEntry(**entry) for entry in entries])
