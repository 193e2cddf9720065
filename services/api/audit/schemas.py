"""Wire shapes of the audit endpoints."""

from __future__ import annotations

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
