"""Audit administration over HTTP: verify the chain, export it, erase one principal's data (admin only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from services.core import audit, audit_chain, audit_export
from services.core.audit_chain import ErasureResult, VerifyResult
from services.core.audit_export import ExportFormat
from services.core.auth import PrincipalContext
from services.core.db.session import session_scope
from services.core.runtime import Runtime


def verify(session: Session, principal: PrincipalContext) -> VerifyResult:
    principal.require_role("admin")
    return audit_chain.verify(session)


def export_lines(
    runtime: Runtime, principal: PrincipalContext, fmt: ExportFormat, since: datetime | None, until: datetime | None
) -> Iterator[str]:
    """Checks the role and records the export now; the returned lines are read while the response streams."""
    principal.require_role("admin")
    # Reading everyone's questions is itself a governed action.
    with session_scope(runtime.sessions) as session:
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
    return _stream(runtime, fmt, since, until)


def _stream(runtime: Runtime, fmt: ExportFormat, since: datetime | None, until: datetime | None) -> Iterator[str]:
    # Its own session: the request's would be closed before the body is streamed.
    with session_scope(runtime.sessions) as session:
        yield from audit_export.export(session, fmt, since, until)


def erase(session: Session, principal: PrincipalContext, principal_id: str) -> ErasureResult:
    principal.require_role("admin")
    return audit_chain.erase_principal(session, principal_id, actor_id=principal.id)
