"""Audit administration over HTTP: verify the chain, export it, erase one principal's data (admin only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.core import audit
from services.core.access.principals import Caller
from services.core.audit import chain as audit_chain
from services.core.audit import export as audit_export
from services.core.audit.chain import VerifyResult
from services.core.audit.erasure import ErasureResult, erase_principal
from services.core.audit.export import ExportFormat
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
