"""Wire shapes of the documents API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

DocumentStatus = Literal["queued", "processing", "ready", "failed"]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    source: str | None
    title: str
    filename: str
    format: str
    content_type: str
    size_bytes: int
    groups: list[str]
    classification: str
    tags: list[str]
    status: DocumentStatus
    stage: Literal["queued", "parsing", "chunking", "embedding", "indexing", "done", "failed"]
    progress: int
    version: int
    indexed_version: int
    chunk_count: int
    error: str | None
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


class DocumentVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    filename: str
    size_bytes: int
    sha256: str
    uploaded_by: str | None
    uploaded_at: datetime
