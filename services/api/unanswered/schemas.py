"""Wire shapes of the unanswered-questions log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class UnansweredOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    principal_id: str | None
    channel: str
    question: str
    query: str
    best_similarity: float | None
    nearest: list[dict[str, Any]]


class UnansweredList(BaseModel):
    questions: list[UnansweredOut]
    total: int
    limit: int
    offset: int
