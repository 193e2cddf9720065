"""Admin routes for the vector index's consistency with the database (`steward doctor`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.api.deps import AdminCaller, OutboxDep, SessionsDep, VectorStoreDep
from services.api.index import service
from services.api.index.schemas import DriftOut

router = APIRouter(prefix="/v1/admin/index", tags=["admin"])


@router.get("/drift", response_model=DriftOut)
async def index_drift(
    sessions: SessionsDep, vector_store: VectorStoreDep, outbox: OutboxDep, principal: AdminCaller
) -> DriftOut:
    """Where the vector index and the database disagree (admin); changes nothing."""
    report = await run_in_threadpool(
        lambda: service.check(
            sessions=sessions, vector_store=vector_store, outbox=outbox, principal=principal, repair=False
        )
    )
    return DriftOut.model_validate(report.as_dict())


@router.post("/repair", response_model=DriftOut)
async def repair_index(
    sessions: SessionsDep, vector_store: VectorStoreDep, outbox: OutboxDep, principal: AdminCaller
) -> DriftOut:
    """Repair every disagreement (admin): orphans and leftovers removed, access set to the row's, documents
    with missing chunks queued again. Returns what was found; the repair is audited."""
    report = await run_in_threadpool(
        lambda: service.check(
            sessions=sessions, vector_store=vector_store, outbox=outbox, principal=principal, repair=True
        )
    )
    return DriftOut.model_validate(report.as_dict())
