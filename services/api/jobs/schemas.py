"""Wire shapes of the ingestion jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["queued", "running", "retrying", "succeeded", "failed", "superseded"]


class JobOut(BaseModel):
    """One ingestion job: the failed-jobs view shows why, and how many chunks a version changed."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    document_id: str
    filename: str
    version: int
    status: JobStatus
    attempts: int
    error: str | None
    chunks_embedded: int
    chunks_reused: int
    chunks_removed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int
    limit: int
    offset: int
