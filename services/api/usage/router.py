"""Admin routes for usage charts and the ingestion queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import AdminCaller, SessionDep
from services.api.usage import service
from services.api.usage.schemas import QueueOut, UsageOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/usage", response_model=UsageOut)
def usage(
    session: SessionDep,
    principal: AdminCaller,
    days: Annotated[int, Query(ge=1, le=90, description="how many days back, today included")] = 14,
    group: Annotated[str | None, Query(max_length=100, description="only requests by members of this group")] = None,
    site: Annotated[str | None, Query(max_length=36, description="only requests through this widget site")] = None,
) -> UsageOut:
    """Chat requests, tokens, refusals, "I don't know" rate and latency p50/p95 per day; the most cited
    documents; requests and tokens per group and per site (admin). Read from the audit log."""
    found = service.usage(session=session, principal=principal, days=days, group=group, site=site)
    return UsageOut.model_validate(found)


@router.get("/queue", response_model=QueueOut)
def queue(session: SessionDep, principal: AdminCaller) -> QueueOut:
    """The ingestion queue: documents queued, processing, failed and ready, throughput, recent failures (admin)."""
    return QueueOut.model_validate(service.queue(session=session, principal=principal))
