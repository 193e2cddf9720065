"""GET /v1/admin/unanswered: questions Steward said "I don't know" to, for admins to close the gaps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from services.api.deps import AdminCaller, SessionDep
from services.api.fields import Limit, Offset
from services.api.unanswered import service
from services.api.unanswered.schemas import UnansweredList, UnansweredOut

router = APIRouter(prefix="/v1/admin/unanswered", tags=["admin"])


@router.get("", response_model=UnansweredList)
def unanswered(
    session: SessionDep,
    principal: AdminCaller,
    limit: Limit = 100,
    offset: Offset = 0,
    since: Annotated[AwareDatetime | None, Query(description="only questions asked at or after")] = None,
) -> UnansweredList:
    """Newest first, with the best similarity reached and the nearest documents (admin)."""
    rows, total = service.list(session=session, principal=principal, limit=limit, offset=offset, since=since)
    return UnansweredList(
        questions=[UnansweredOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
