"""HTTP routes for ingestion jobs (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import AdminCaller, SessionDep
from services.api.fields import Limit, Offset
from services.api.jobs import service
from services.api.jobs.schemas import JobList, JobOut, JobStatus

router = APIRouter(prefix="/v1/admin/jobs", tags=["admin"])


@router.get("", response_model=JobList)
def list_jobs(
    session: SessionDep,
    principal: AdminCaller,
    status: Annotated[JobStatus | None, Query(description="e.g. failed: the failed-jobs view")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JobList:
    """Ingestion jobs, newest first (admin). Retry a failed one with POST /v1/documents/{id}/retry."""
    rows, total = service.list(session=session, principal=principal, status=status, limit=limit, offset=offset)
    jobs = [JobOut.model_validate({**_columns(job), "filename": doc.filename}) for job, doc in rows]
    return JobList(jobs=jobs, total=total, limit=limit, offset=offset)


def _columns(job: object) -> dict[str, object]:
    return {name: getattr(job, name) for name in JobOut.model_fields if hasattr(job, name)}
