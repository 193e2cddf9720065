"""Wire shapes of usage and the ingestion queue."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UsageDay(BaseModel):
    day: str
    requests: int
    tokens: int
    refusals: int
    not_found: int
    idk_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class CitedDocument(BaseModel):
    document_id: str
    title: str
    citations: int


class GroupUsage(BaseModel):
    group: str
    requests: int
    tokens: int


class SiteUsage(BaseModel):
    site: str
    requests: int
    tokens: int


class SiteName(BaseModel):
    id: str
    name: str


class UsageOut(BaseModel):
    days: list[UsageDay]
    top_documents: list[CitedDocument]
    by_group: list[GroupUsage]
    by_site: list[SiteUsage]
    groups: list[str]
    sites: list[SiteName]


class FailedJob(BaseModel):
    document_id: str
    title: str
    error: str | None
    finished_at: datetime | None


class QueueOut(BaseModel):
    queued: int
    processing: int
    failed: int
    ready: int
    throughput_per_min: float
    failed_jobs: list[FailedJob]
