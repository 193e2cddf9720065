"""Audit administration over HTTP: verify the chain, export it, erase one principal's data (admin only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.core import audit
from services.core.access.principals import Caller
from services.core.audit import chain as audit_chain
from services.core.audit import export as audit_export
from services.core.audit.chain import VerifyResult
from services.core.audit.erasure import ErasureResult, erase_principal
from services.core.audit.export import ExportFormat
from services.core.db.models import AuditEvent, Group, GroupMember, Principal
from services.core.db.session import session_scope


def verify(*, session: Session, principal: Caller) -> VerifyResult:
    principal.require_role("admin")
    return audit_chain.verify(session)


def export(
    *,
    sessions: sessionmaker[Session],
    principal: Caller,
    fmt: ExportFormat,
    since: datetime | None,
    until: datetime | None,
) -> Iterator[str]:
    """Checks the role and records the export now; the returned lines are read while the response streams."""
    principal.require_role("admin")
    # Reading everyone's questions is itself a governed action.
    with session_scope(sessions) as session:
        audit.admin_action(
            session,
            principal.id,
            "audit.export",
            f"exported the audit log as {fmt}",
            details={
                "format": fmt,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
    return _stream(sessions, fmt, since, until)


def _stream(
    sessions: sessionmaker[Session], fmt: ExportFormat, since: datetime | None, until: datetime | None
) -> Iterator[str]:
    # Its own session: the request's would be closed before the body is streamed.
    with session_scope(sessions) as session:
        yield from audit_export.export(session, fmt, since, until)


def erase(*, session: Session, principal: Caller, principal_id: str, reason: str) -> ErasureResult:
    principal.require_role("admin")
    return erase_principal(session, principal_id, actor_id=principal.id, reason=reason)


def list_events(
    *,
    session: Session,
    principal: Caller,
    principal_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[AuditEvent, str | None]], int]:
    """Audit rows, newest first, with the name of whoever acted; `action` matches a prefix ("chat" finds
    chat.request)."""
    principal.require_role("admin")
    query = select(AuditEvent, Principal.name).outerjoin(Principal, Principal.id == AuditEvent.principal_id)
    if principal_id:
        query = query.where(AuditEvent.principal_id == principal_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)).tuples().all()
    return list(rows), total


def list_principals(
    *, session: Session, principal: Caller, q: str | None, limit: int, offset: int
) -> tuple[list[tuple[Principal, list[str]]], int]:
    """Principals by name, each with the groups they are a member of."""
    principal.require_role("admin")
    query = select(Principal)
    if q:
        query = query.where(Principal.name.contains(q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Principal.name).limit(limit).offset(offset)))
    groups: dict[str, list[str]] = {p.id: [] for p in rows}
    if rows:
        for principal_id, name in session.execute(
            select(GroupMember.principal_id, Group.name)
            .join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.principal_id.in_(groups))
            .order_by(Group.name)
        ).tuples():
            groups[principal_id].append(name)
    return [(p, groups[p.id]) for p in rows], total
