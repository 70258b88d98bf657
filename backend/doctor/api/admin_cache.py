"""Cache administration: statistics summed over every worker, and flushing one kind or all."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from backend.core.cache.tiered import KINDS, Kind
from backend.core.deps import CacheDep
from backend.core.errors import ERROR_RESPONSES
from backend.core.guard import rate_limited
from backend.core.metrics import metric_samples
from backend.core.schemas import StrictModel
from backend.doctor.deps import AdminDep, AuthDep, admin_user

router = APIRouter(
    prefix="/api/v1/admin/cache",
    tags=["cache administration"],
    dependencies=[Depends(admin_user)],
    responses=ERROR_RESPONSES,
)
rate_limited(router, "default")


class KindStats(BaseModel):
    l1_hits: int = 0
    l1_misses: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    computes: int = 0
    coalesced_in_worker: int = 0
    coalesced_across_workers: int = 0
    hit_ratio: float = 0.0  # requests served without computing, of all requests


class CacheStats(BaseModel):
    service: str
    enabled: bool
    l1_entries: int
    l1_max_entries_per_worker: int
    l1_evictions: int
    l2_state: str  # closed (working), open (skipped after errors) or half_open (trying again)
    l2_errors: int
    l2_skipped_oversize: int
    kinds: dict[str, KindStats]


def _stats(service: str) -> dict[tuple[str, ...], int]:
    totals: dict[tuple[str, ...], float] = {}
    for name, labels, value in metric_samples("medqa_cache_"):
        if labels.get("service") != service or name.endswith("_created"):
            continue
        key = (name, *(labels.get(label, "") for label in ("kind", "tier", "result", "scope", "reason")))
        totals[key] = totals.get(key, 0.0) + value
    return {key: int(value) for key, value in totals.items()}


@router.get("/stats", summary="Hits and misses per tier and kind, evictions, coalescing, L2 health")
async def stats(cache: CacheDep, request: Request) -> CacheStats:
    service = request.app.state.service
    totals = await asyncio.to_thread(_stats, service)  # reads every worker's metric files

    def total(
        name: str, kind: str = "", tier: str = "", result: str = "", scope: str = "", reason: str = ""
    ) -> int:
        return int(totals.get((name, kind, tier, result, scope, reason), 0))

    kinds = {}
    for kind in KINDS:
        requests = "medqa_cache_requests_total"
        item = KindStats(
            l1_hits=total(requests, kind, "l1", "hit"),
            l1_misses=total(requests, kind, "l1", "miss"),
            l2_hits=total(requests, kind, "l2", "hit"),
            l2_misses=total(requests, kind, "l2", "miss"),
            computes=total("medqa_cache_computes_total", kind),
            coalesced_in_worker=total("medqa_cache_coalesced_total", kind, scope="worker"),
            coalesced_across_workers=total("medqa_cache_coalesced_total", kind, scope="cluster"),
        )
        asked = item.l1_hits + item.l1_misses
        item.hit_ratio = round(1 - item.computes / asked, 4) if asked else 0.0
        kinds[kind] = item
    return CacheStats(
        service=service,
        enabled=cache.enabled,
        l1_entries=total("medqa_cache_l1_entries"),
        l1_max_entries_per_worker=cache.l1.max_size,
        l1_evictions=total("medqa_cache_evictions_total"),
        l2_state=cache.l2_state,
        l2_errors=total("medqa_cache_l2_errors_total"),
        l2_skipped_oversize=total("medqa_cache_l2_skipped_total", reason="oversize"),
        kinds=kinds,
    )


class FlushRequest(StrictModel):
    kind: Kind | None = None  # omitted: every kind


class FlushResponse(BaseModel):
    kind: str
    l1_removed: int
    l2_removed: int


@router.post("/flush", summary="Empty one kind of cached value, or all; other workers follow within a second")
async def flush(body: FlushRequest, cache: CacheDep, admin: AdminDep, auth: AuthDep) -> FlushResponse:
    flushed = FlushResponse(**await cache.flush(body.kind))
    await auth.record(admin, "cache.flush", [flushed.kind])
    return flushed
