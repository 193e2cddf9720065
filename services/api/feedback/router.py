"""Routes for feedback: people rate their answers; admins read the ratings with the answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.api.deps import AdminCaller, ChatCaller, SessionDep
from services.api.feedback import service
from services.api.feedback.schemas import FeedbackCreate, FeedbackItem, FeedbackList, FeedbackOut, Rating
from services.api.fields import Limit, Offset

router = APIRouter(tags=["feedback"])


@router.post("/v1/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
def give_feedback(body: FeedbackCreate, session: SessionDep, principal: ChatCaller) -> FeedbackOut:
    """Thumbs up or down, with an optional comment, on one of your answers (`message_id` from the chat answer).
    Rating the same answer again replaces your earlier feedback."""
    row = service.give(
        session=session, principal=principal, message_id=body.message_id, rating=body.rating, comment=body.comment
    )
    return FeedbackOut.model_validate(row, from_attributes=True)


@router.get("/v1/admin/feedback", response_model=FeedbackList, tags=["admin"])
def list_feedback(
    session: SessionDep,
    principal: AdminCaller,
    rating: Annotated[Rating | None, Query(description="only up or only down")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> FeedbackList:
    """Feedback, newest first, with the question, the answer and its citations (admin)."""
    items, total = service.list(session=session, principal=principal, rating=rating, limit=limit, offset=offset)
    return FeedbackList(
        feedback=[FeedbackItem.model_validate(i) for i in items], total=total, limit=limit, offset=offset
    )
