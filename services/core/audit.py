"""The audit trail: one row per policy decision or governed action."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.core.db.models import AuditEvent
from services.core.policy import PolicyDecision


def record(
    session: Session,
    *,
    action: str,
    decision: str,
    principal_id: str | None,
    reason: str = "",
    rule_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            principal_id=principal_id,
            action=action,
            rule_id=rule_id,
            decision=decision,
            reason=reason,
            details=details or {},
        )
    )


def record_decision(
    session: Session, decision: PolicyDecision, principal_id: str, details: dict[str, Any] | None = None
) -> None:
    record(
        session,
        action=f"policy.{decision.stage}",
        decision=decision.decision,
        principal_id=principal_id,
        reason=decision.reason,
        rule_id=decision.rule_id,
        details={**decision.details, **(details or {})},
    )
