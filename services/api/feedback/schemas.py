"""Wire shapes of feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Rating = Literal["up", "down"]


class FeedbackCreate(BaseModel):
    message_id: str = Field(min_length=1, max_length=36, description="the answer's id (the chat answer's message_id)")
    rating: Rating
    comment: str = Field(default="", max_length=2000)


class FeedbackOut(BaseModel):
    id: str
    message_id: str
    rating: Rating
    comment: str
    created_at: datetime


class FeedbackItem(FeedbackOut):
    """Feedback as admins read it: with the question, the answer and what it cited."""

    principal_id: str
    principal_name: str
    question: str
    answer: str
    citations: list[dict[str, Any]]


class FeedbackList(BaseModel):
    feedback: list[FeedbackItem]
    total: int
    limit: int
    offset: int
