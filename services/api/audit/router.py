"""Admin routes for the audit log: verify the hash chain, export it, erase one principal's data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from services.api.audit import service
from services.api.audit.schemas import (
    AuditEventList,
    AuditEventOut,
    ErasureOut,
    PrincipalList,
    PrincipalOut,
    VerifyOut,
)
from services.api.deps import AdminCaller, SessionDep, SessionsDep
from services.api.fields import Limit, Offset
from services.core.audit.export import MEDIA_TYPES, ExportFormat

router = APIRouter(prefix="/v1/admin/audit", tags=["admin"])
principals_router = APIRouter(prefix="/v1/admin/principals", tags=["admin"])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}, "description": "one row per line"}},
)
def export(
    sessions: SessionsDep,
    principal: AdminCaller,
    fmt: Annotated[ExportFormat, Query(alias="format")] = "jsonl",
    since: Annotated[AwareDatetime | None, Query(description="rows created at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="rows created before")] = None,
) -> StreamingResponse:
    """Every audit row with its hashes, oldest first, as JSON Lines or CSV (admin); the export is audited."""
    lines = service.export(sessions=sessions, principal=principal, fmt=fmt, since=since, until=until)
    return StreamingResponse(
        lines, media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="audit.{fmt}"'}
    )


@router.post("/verify", response_model=VerifyOut)
def verify(session: SessionDep, principal: AdminCaller) -> VerifyOut:
    """Walk the hash chain (admin). `ok` false names the first bad row (`bad_row_id`) and the `problem`."""
    result = service.verify(session=session, principal=principal)
    return VerifyOut(
        ok=result.ok,
        rows=result.rows,
        anchor_id=result.anchor_id,
        head_id=result.head_id,
        head_hash=result.head_hash,
        bad_row_id=result.bad_row_id,
        problem=result.problem,
        summary=result.summary(),
    )


@principals_router.delete("/{principal_id}/data", response_model=ErasureOut)
def erase(
    principal_id: str,
    session: SessionDep,
    principal: AdminCaller,
    reason: Annotated[str, Query(min_length=1, max_length=500, description="why: recorded with the erasure")],
) -> ErasureOut:
    """Erase a principal's conversations, unanswered questions and the audit payloads of their requests (admin);
    records of admin actions are never erased, and no admin may erase their own data (403). The chain still
    verifies and the erasure is itself audited with its reason. 404 when there is no such principal and no data
    of theirs."""
    result = service.erase(session=session, principal=principal, principal_id=principal_id, reason=reason)
    return ErasureOut(
        principal_id=result.principal_id,
        conversations=result.conversations,
        messages=result.messages,
        unanswered_questions=result.unanswered_questions,
        audit_rows=result.audit_rows,
        event_id=result.event_id,
    )


@router.get("/events", response_model=AuditEventList)
def list_events(
    session: SessionDep,
    principal: AdminCaller,
    principal_id: Annotated[str | None, Query(max_length=36, description="only this person's rows")] = None,
    action: Annotated[str | None, Query(max_length=64, description="actions starting with this, e.g. chat")] = None,
    since: Annotated[AwareDatetime | None, Query(description="rows created at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="rows created before")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditEventList:
    """Audit rows, newest first, filtered by person, action and time (admin): what the console's log shows."""
    rows, total = service.list_events(
        session=session,
        principal=principal,
        principal_id=principal_id,
        action=action,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    events = [
        AuditEventOut(
            id=event.id,
            created_at=event.created_at,
            principal_id=event.principal_id,
            principal_name=name,
            action=event.action,
            decision=event.decision,
            rule_id=event.rule_id,
            reason=event.reason,
            details=event.details or {},
            erased=event.erased_at is not None,
        )
        for event, name in rows
    ]
    return AuditEventList(events=events, total=total, limit=limit, offset=offset)


@principals_router.get("", response_model=PrincipalList)
def list_principals(
    session: SessionDep,
    principal: AdminCaller,
    q: Annotated[str | None, Query(max_length=200, description="names containing this")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PrincipalList:
    """People and applications, by name, with their groups (admin)."""
    rows, total = service.list_principals(session=session, principal=principal, q=q, limit=limit, offset=offset)
    return PrincipalList(
        principals=[
            PrincipalOut(id=p.id, name=p.name, role=p.role, groups=groups, created_at=p.created_at)
            for p, groups in rows
        ],
        total=total,
        limit=limit,
        offset=offset,
    )
