"""The audit trail: one row per policy decision or governed action, plus one per chat or search request,
appended to a hash chain (format: services/core/audit/hashing.py; checks, export, purge, erasure:
services/core/audit/chain.py)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from services.core.audit.hashing import as_stored_json, payload_digest, row_hash
from services.core.db.models import AuditChainHead, AuditEvent, utcnow
from services.core.db.session import rows_affected
from services.core.errors import AuditChainBroken
from services.core.policy import PolicyDecision

HEAD_ID = 1


@dataclass(frozen=True)
class ChainHead:
    last_id: int
    last_hash: str
    anchor_id: int
    anchor_hash: str


def lock_head(session: Session) -> ChainHead:
    """Lock the chain head for the rest of `session`'s transaction and return it.

    The first statement is a write on purpose. On PostgreSQL it takes the head row's lock, so a second
    writer (any process) waits here until the first commits or rolls back, and then reads the new head:
    under READ COMMITTED each statement sees what committed before it. On SQLite, pysqlite opens the
    transaction only at the first write, and a write takes the database's single writer lock (waiting up to
    busy_timeout); reading the head before writing could let two writers read the same predecessor and the
    second would then fail with "database is locked" instead of waiting. Either way, the predecessor read
    below cannot change until this transaction ends: two rows can never chain onto the same one, and a
    rolled-back transaction takes its row and its head update with it, so ids stay gapless.
    """
    touched = session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_id=AuditChainHead.last_id)
        .execution_options(synchronize_session=False)
    )
    if rows_affected(touched) != 1:
        # Migration 0004 creates it; recreating it here would silently restart a chain someone cut off.
        raise AuditChainBroken("the audit chain head row is missing: run `steward migrate` and `steward audit verify`")
    row = session.execute(
        select(
            AuditChainHead.last_id, AuditChainHead.last_hash, AuditChainHead.anchor_id, AuditChainHead.anchor_hash
        ).where(AuditChainHead.id == HEAD_ID)
    ).one()
    return ChainHead(row.last_id, row.last_hash, row.anchor_id, row.anchor_hash)


def record(
    session: Session,
    *,
    action: str,
    decision: str,
    principal_id: str | None,
    reason: str = "",
    rule_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one event to the chain in `session`'s transaction (it commits or rolls back with the caller's
    work); returns its id. The head stays locked until that transaction ends, so commit soon after."""
    event = {
        "action": action,
        "decision": decision,
        "principal_id": principal_id,
        "reason": reason,
        "rule_id": rule_id,
        "details": details,
    }
    return record_many(session, [event])[0]


def record_many(session: Session, events: Sequence[dict[str, Any]]) -> list[int]:
    """Append `events` (keyword arguments of `record`), in order, under one lock of the head: one insert of all
    the rows and one head update, however many there are (the audit writer's group commit); returns their ids."""
    if not events:
        return []
    head = lock_head(session)
    rows: list[dict[str, Any]] = []
    prev_hash = head.last_hash
    for offset, event in enumerate(events, start=1):
        event_id = head.last_id + offset
        created_at = utcnow()
        reason = event.get("reason", "")
        stored = as_stored_json(event.get("details"))
        salt = secrets.token_hex(16)
        digest = payload_digest(salt, reason, stored)
        hashed = row_hash(
            id=event_id,
            created_at=created_at,
            principal_id=event["principal_id"],
            action=event["action"],
            rule_id=event.get("rule_id"),
            decision=event["decision"],
            payload_digest=digest,
            prev_hash=prev_hash,
        )
        rows.append(
            {
                "id": event_id,
                "created_at": created_at,
                "principal_id": event["principal_id"],
                "action": event["action"],
                "rule_id": event.get("rule_id"),
                "decision": event["decision"],
                "reason": reason,
                "details": stored,
                "payload_salt": salt,
                "payload_digest": digest,
                "prev_hash": prev_hash,
                "row_hash": hashed,
            }
        )
        prev_hash = hashed
    session.execute(insert(cast(Table, AuditEvent.__table__)), rows)  # Core executemany: no ORM work per row
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_id=rows[-1]["id"], last_hash=prev_hash)
        .execution_options(synchronize_session=False)
    )
    return [row["id"] for row in rows]


def admin_action(
    session: Session, admin_id: str, action: str, reason: str, details: dict[str, Any] | None = None
) -> int:
    """Record what an admin did (an upload, a deletion, a group change, a reload, an export): every governed
    action is an `info` event in the chain under the admin's id."""
    return record(session, action=action, decision="info", principal_id=admin_id, reason=reason, details=details)


def decision_event(
    decision: PolicyDecision, principal_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The event of one policy decision, as keyword arguments of `record`."""
    return {
        "action": f"policy.{decision.stage}",
        "decision": decision.decision,
        "principal_id": principal_id,
        "reason": decision.reason,
        "rule_id": decision.rule_id,
        "details": {**decision.details, **(details or {})},
    }


def record_decision(
    session: Session, decision: PolicyDecision, principal_id: str, details: dict[str, Any] | None = None
) -> None:
    record(session, **decision_event(decision, principal_id, details))


def decision_summary(decisions: Sequence[PolicyDecision]) -> list[dict[str, str]]:
    return [{"rule_id": d.rule_id, "stage": d.stage, "decision": d.decision, "reason": d.reason} for d in decisions]


def answer_hash(answer: str) -> str:
    return hashlib.sha256(answer.encode()).hexdigest()


def record_chat_request(
    session: Session,
    *,
    principal_id: str,
    conversation_id: str,
    question: str,
    query: str | None,
    chunk_ids: Sequence[str],
    context_chunk_ids: Sequence[str],
    decisions: Sequence[PolicyDecision],
    model: str | None,
    prompt_version: str,
    answer: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency_ms: int,
    outcome: str,
    groups: Sequence[str] = (),
    site: str | None = None,
    cited_document_ids: Sequence[str] = (),
) -> int:
    """The one `chat.request` row of a chat request, written once its answer (or failure) is known.

    `chunk_ids` were retrieved; `context_chunk_ids` went into the prompt. `question` and `query` are kept as
    given: callers pass them as the PII policy keeps questions (PiiGuard.question). The answer itself is kept
    only as a hash: the conversation holds its text, and erasure removes that."""
    return record(
        session,
        action="chat.request",
        decision="info",
        principal_id=principal_id,
        reason=f"chat request: {outcome}",
        details={
            "conversation_id": conversation_id,
            "question": question,
            "query": query,
            "chunk_ids": list(chunk_ids),
            "context_chunk_ids": list(context_chunk_ids),
            "decisions": decision_summary(decisions),
            "model": model,
            "prompt_version": prompt_version,
            "answer_sha256": None if answer is None else answer_hash(answer),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "latency_ms": latency_ms,
            "outcome": outcome,
            # Usage per group and per widget site, and the most cited documents (GET /v1/admin/usage).
            "groups": sorted(groups),
            "site": site,
            "cited_document_ids": list(cited_document_ids),
        },
    )


def search_request_event(
    *,
    principal_id: str,
    query: str,
    question: str | None,
    mode: str,
    chunk_ids: Sequence[str],
    decisions: Sequence[PolicyDecision],
    latency_ms: int,
) -> dict[str, Any]:
    """The one `search.request` event of a search request (`query`, `question` as the PII policy keeps them),
    as keyword arguments of `record`."""
    return {
        "action": "search.request",
        "decision": "info",
        "principal_id": principal_id,
        "reason": f"search request: {len(chunk_ids)} hits",
        "details": {
            "query": query,
            "question": question,
            "mode": mode,
            "chunk_ids": list(chunk_ids),
            "decisions": decision_summary(decisions),
            "latency_ms": latency_ms,
        },
    }
