"""Wire shapes of the documents API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    filename: str
    format: str
    content_type: str
    size_bytes: int
    groups: list[str]
    status: Literal["queued", "processing", "ready", "failed"]
    progress: int
    chunk_count: int
    error: str | None
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int
