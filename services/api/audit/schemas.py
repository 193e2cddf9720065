"""Wire shapes of the audit endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class VerifyOut(BaseModel):
    ok: bool
    rows: int
    anchor_id: int
    head_id: int
    head_hash: str
    bad_row_id: int | None
    problem: str
    summary: str


class ErasureOut(BaseModel):
    principal_id: str
    conversations: int
    messages: int
    unanswered_questions: int
    audit_rows: int
    event_id: int


class AuditEventOut(BaseModel):
    id: int
    created_at: datetime
    principal_id: str | None
    principal_name: str | None
    action: str
    decision: str
    rule_id: str | None
    reason: str
    details: dict[str, Any]
    erased: bool


class AuditEventList(BaseModel):
    events: list[AuditEventOut]
    total: int
    limit: int
    offset: int


class PrincipalOut(BaseModel):
    id: str
    name: str
    role: str
    groups: list[str]
    created_at: datetime


class PrincipalList(BaseModel):
    principals: list[PrincipalOut]
    total: int
    limit: int
    offset: int
