"""Ingestion jobs, for admins: the failed-jobs view and every job's counts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.access.principals import Caller
from services.core.db.models import Document, IngestJob


def list(
    *, session: Session, principal: Caller, status: str | None, limit: int, offset: int
) -> tuple[Sequence[tuple[IngestJob, Document]], int]:
    """Ingestion jobs, newest first, optionally of one status (admin): the failed-jobs view."""
    principal.require_role("admin")
    query = select(IngestJob, Document).join(Document, Document.id == IngestJob.document_id)
    count = select(func.count()).select_from(IngestJob)
    if status is not None:
        query, count = query.where(IngestJob.status == status), count.where(IngestJob.status == status)
    rows = session.execute(query.order_by(IngestJob.created_at.desc()).limit(limit).offset(offset)).all()
    return [(job, document) for job, document in rows], session.scalar(count) or 0
