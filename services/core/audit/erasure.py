"""Erasure: one principal's questions and answers removed, their audit payloads blanked; the chain still verifies.

Blanking keeps each row's payload digest (the hashed skeleton is unchanged), and the `audit.erase` event this
writes is what verification requires after every erased row (services/core/audit/chain.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from services.core.audit.chain import ERASE_ACTION, KEPT_ON_ERASURE
from services.core.audit.log import record
from services.core.db.models import AuditEvent, Conversation, Message, Principal, UnansweredQuestion, utcnow
from services.core.db.session import rows_affected
from services.core.errors import InvalidInput, PermissionDenied, PrincipalNotFound

# The audit rows of a person's own requests: what erasure blanks (with the policy decisions made on them).
REQUEST_ACTIONS = ("chat.request", "search.request")


@dataclass(frozen=True)
class ErasureResult:
    principal_id: str
    conversations: int
    messages: int
    unanswered_questions: int
    audit_rows: int
    event_id: int


def erase_principal(session: Session, principal_id: str, actor_id: str | None, reason: str) -> ErasureResult:
    """Delete a principal's conversations (and their messages) and unanswered questions, and blank the
    payload of the audit rows of their requests; the chain keeps verifying and the erasure is itself recorded,
    with `reason`.

    What a person asked and was told goes; what anyone did as an admin (uploads, deletes, access and key
    changes, exports, erasures) stays: erasure cannot be used to hide an admin's actions, and an admin cannot
    erase their own data at all (another admin must). The principal and its keys stay: this erases what they
    asked and were told, not their access."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why this principal's data is erased (reason): the erasure is audited with it")
    if len(reason) > 500:
        raise InvalidInput("the reason is at most 500 characters")
    if actor_id is not None and actor_id == principal_id:
        raise PermissionDenied("an admin cannot erase their own data; another admin must")
    conversations_of = select(Conversation.id).where(Conversation.principal_id == principal_id)
    messages = rows_affected(session.execute(delete(Message).where(Message.conversation_id.in_(conversations_of))))
    conversations = rows_affected(
        session.execute(delete(Conversation).where(Conversation.principal_id == principal_id))
    )
    unanswered = rows_affected(
        session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.principal_id == principal_id))
    )
    audit_rows = rows_affected(
        session.execute(
            update(AuditEvent)
            .where(
                AuditEvent.principal_id == principal_id,
                AuditEvent.erased_at.is_(None),
                AuditEvent.action.not_in(KEPT_ON_ERASURE),
                # Only the rows of their requests (and the policy decisions on them), never an admin action.
                or_(
                    AuditEvent.action.in_(REQUEST_ACTIONS),
                    and_(AuditEvent.action.like("policy.%"), AuditEvent.decision != "info"),
                ),
            )
            .values(reason="", details={}, payload_salt=None, erased_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    if not (messages or conversations or unanswered or audit_rows) and session.get(Principal, principal_id) is None:
        raise PrincipalNotFound(f"no principal {principal_id} and no data of theirs")
    counts = {
        "conversations": conversations,
        "messages": messages,
        "unanswered_questions": unanswered,
        "audit_rows": audit_rows,
    }
    event_id = record(
        session,
        action=ERASE_ACTION,
        decision="info",
        principal_id=actor_id,
        reason=f"erased the conversations and request records of principal {principal_id}: {reason}",
        details={"subject_principal_id": principal_id, "reason": reason, **counts},
    )
    return ErasureResult(principal_id, conversations, messages, unanswered, audit_rows, event_id)
