"""The unanswered-questions log: what people asked that no readable document covered well enough."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.core.access.principals import Caller
from services.core.db.models import UnansweredQuestion


def list(
    *, session: Session, principal: Caller, limit: int, offset: int, since: datetime | None
) -> tuple[Sequence[UnansweredQuestion], int]:
    """Newest first (admin only): the gaps in the knowledge base, with the nearest documents each time."""
    principal.require_role("admin")
    query = select(UnansweredQuestion)
    if since is not None:
        query = query.where(UnansweredQuestion.created_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(UnansweredQuestion.created_at.desc(), UnansweredQuestion.id).limit(limit).offset(offset)
    ).all()
    return rows, total
