"""The unanswered-questions log: what people asked that no readable document covered well enough."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.auth import PrincipalContext
from services.core.db.models import UnansweredQuestion


def list_unanswered(
    session: Session, principal: PrincipalContext, limit: int, offset: int, since: datetime | None
) -> tuple[list[UnansweredQuestion], int]:
    """Newest first (admin only): the gaps in the knowledge base, with the nearest documents each time."""
    principal.require_role("admin")
    query = select(UnansweredQuestion)
    if since is not None:
        query = query.where(UnansweredQuestion.created_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(UnansweredQuestion.created_at.desc(), UnansweredQuestion.id).limit(limit).offset(offset)
    )
    return list(rows), total
