"""Keeping the audit chain honest: verify it, purge its oldest rows, erase one principal's payloads.

The chain runs from the head's anchor (the last purged row, or genesis) to the head's last row, one row per
id with no gaps. Verification walks it in id order and names the first row that does not fit: a modified
row no longer matches its digest or hash, a deleted one leaves a gap (or, at the end, a head that points
past the last row), a re-linked one has the wrong prev_hash. Purge and erasure change rows only in ways the
walk accepts: purge moves the anchor; erasure blanks payloads (the hashed digest stays) and records an
`audit.erase` event that the walk requires after every erased row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.orm import Session

from services.core.audit.hashing import payload_digest, row_hash, to_utc
from services.core.audit.log import HEAD_ID, ChainHead, lock_head, record
from services.core.db.models import (
    AuditChainHead,
    AuditEvent,
)
from services.core.db.session import rows_affected
from services.core.errors import AuditChainBroken, Conflict

ERASE_ACTION = "audit.erase"
PURGE_ACTION = "audit.purge"
# Events about the log itself carry no one's personal data, and an erasure's own record must survive a
# later erasure of the admin who made it: verification depends on it.
KEPT_ON_ERASURE = (ERASE_ACTION, PURGE_ACTION)
BATCH_ROWS = 1000
VERIFY_ATTEMPTS = 3

_COLUMNS = tuple(AuditEvent.__table__.columns)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int  # rows checked, from the anchor to the head
    anchor_id: int
    head_id: int
    head_hash: str
    bad_row_id: int | None = None
    problem: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"chain intact: {self.rows} rows (after anchor row {self.anchor_id}), head {self.head_hash}"
        where = f"row {self.bad_row_id}" if self.bad_row_id is not None else "chain head"
        return f"chain broken at {where}: {self.problem}"


@dataclass
class _Walk:
    """Where a walk along the chain got to, and the first problem it met."""

    last_id: int
    last_hash: str
    rows: int = 0
    bad_row_id: int | None = None
    problem: str = ""
    # principal -> first erased row of theirs not yet followed by an `audit.erase` event for them
    uncovered_erasures: dict[str, int] = field(default_factory=dict)

    def fail(self, row_id: int, problem: str) -> _Walk:
        self.bad_row_id, self.problem = row_id, problem
        return self


def read_head(session: Session) -> ChainHead | None:
    row = session.execute(
        select(
            AuditChainHead.last_id, AuditChainHead.last_hash, AuditChainHead.anchor_id, AuditChainHead.anchor_hash
        ).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    return None if row is None else ChainHead(row.last_id, row.last_hash, row.anchor_id, row.anchor_hash)


def _walk(session: Session, start_id: int, start_hash: str, upto: int) -> _Walk:
    """Check rows start_id+1 .. upto in order; stops at the first problem."""
    walk = _Walk(last_id=start_id, last_hash=start_hash)
    rows = session.execute(
        select(*_COLUMNS)
        .where(AuditEvent.id > start_id, AuditEvent.id <= upto)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    try:
        for row in rows:
            problem = _check(row, walk)
            if problem is not None:
                return walk.fail(*problem)
            walk.last_id, walk.last_hash, walk.rows = row.id, row.row_hash, walk.rows + 1
    finally:
        rows.close()  # stopping early must not leave PostgreSQL's server-side cursor open
    return walk


def _check(row: Row[Any], walk: _Walk) -> tuple[int, str] | None:
    expected = walk.last_id + 1
    if row.id != expected:
        return expected, f"row {expected} is missing (deleted): the chain jumps from row {walk.last_id} to row {row.id}"
    if row.prev_hash != walk.last_hash:
        return row.id, f"prev_hash does not match row {walk.last_id}'s hash (the chain was re-linked)"
    if row.erased_at is None:
        salt = row.payload_salt or ""
        if payload_digest(salt, row.reason, row.details) != row.payload_digest:
            return row.id, "modified: its reason/details no longer match the payload digest"
    else:
        if row.reason or row.details or row.payload_salt is not None or row.principal_id is None:
            return row.id, "marked erased but not blank, or erased without a principal"
        walk.uncovered_erasures.setdefault(row.principal_id, row.id)
    expected_hash = row_hash(
        id=row.id,
        created_at=row.created_at,
        principal_id=row.principal_id,
        action=row.action,
        rule_id=row.rule_id,
        decision=row.decision,
        payload_digest=row.payload_digest,
        prev_hash=row.prev_hash,
    )
    if expected_hash != row.row_hash:
        return row.id, "modified: its hash does not match its content"
    if row.action == ERASE_ACTION and row.erased_at is None and isinstance(row.details, dict):
        walk.uncovered_erasures.pop(str(row.details.get("subject_principal_id")), None)
    return None


def _erasure_problem(uncovered: dict[str, int]) -> tuple[int, str] | None:
    if not uncovered:
        return None
    first = min(uncovered.values())
    return first, "its payload was blanked, but no audit.erase event for its principal follows it"


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; the result names the first bad row and why."""
    result = _verify_once(session)
    for _ in range(VERIFY_ATTEMPTS - 1):
        if result.ok:
            break
        # A purge that ran during the walk deleted rows under it: walk again from the new anchor.
        head = read_head(session)
        if head is None or head.anchor_id == result.anchor_id:
            break
        result = _verify_once(session)
    return result


def _verify_once(session: Session) -> VerifyResult:
    head = read_head(session)
    if head is None:
        return VerifyResult(False, 0, 0, 0, "", None, "the chain head row is missing (deleted)")

    def broken(rows: int, row_id: int, problem: str) -> VerifyResult:
        return VerifyResult(False, rows, head.anchor_id, head.last_id, head.last_hash, row_id, problem)

    stray = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.id <= head.anchor_id))
    if stray is not None:
        return broken(0, stray, f"it is at or before the chain's anchor (row {head.anchor_id}): not on the chain")
    walk = _walk(session, head.anchor_id, head.anchor_hash, head.last_id)
    if walk.bad_row_id is not None:
        return broken(walk.rows, walk.bad_row_id, walk.problem)
    if walk.last_id != head.last_id:
        return broken(
            walk.rows,
            walk.last_id + 1,
            f"row {walk.last_id + 1} is missing (deleted): the chain head says the chain ends at row {head.last_id}",
        )
    if walk.last_hash != head.last_hash:
        return broken(walk.rows, head.last_id, "its hash differs from the one the chain head recorded")
    erasure = _erasure_problem(walk.uncovered_erasures)
    if erasure is not None:
        return broken(walk.rows, *erasure)
    # Rows appended while we walked are fine; a row beyond the newest head was never chained. The max is read
    # before the head: a row and its head update commit together, so a legitimate row is always covered.
    top = session.scalar(select(func.max(AuditEvent.id)))
    latest = read_head(session)
    if top is not None and latest is not None and top > latest.last_id:
        return broken(walk.rows, latest.last_id + 1, "it is beyond the chain head: written outside the chain")
    return VerifyResult(True, walk.rows, head.anchor_id, head.last_id, head.last_hash)


@dataclass(frozen=True)
class PurgeResult:
    removed: int
    before: datetime
    anchor_id: int  # the last purged row: verification now starts after it
    event_id: int | None  # the `audit.purge` event, when anything was removed


def purge(session: Session, before: datetime, actor_id: str | None = None) -> PurgeResult:
    """Delete the oldest rows, those created before `before`, and anchor the chain at the last one removed.

    Only a prefix of the chain goes (up to the first row at or after `before`), so no gap is left. The rows
    are verified first: purging would destroy the evidence if one had been tampered with, so that refuses."""
    before = to_utc(before)
    head = read_head(session)
    if head is None:
        raise AuditChainBroken("the audit chain head row is missing: run `steward audit verify`")
    first_kept = session.scalar(
        select(func.min(AuditEvent.id)).where(AuditEvent.id > head.anchor_id, AuditEvent.created_at >= before)
    )
    cut = head.last_id if first_kept is None else first_kept - 1
    if cut <= head.anchor_id:
        return PurgeResult(0, before, head.anchor_id, None)
    # Walked without the lock (appenders only add rows after the head), so requests are not held up by it.
    walk = _walk(session, head.anchor_id, head.anchor_hash, cut)
    problem: tuple[int, str] | None = None
    if walk.bad_row_id is not None:
        problem = (walk.bad_row_id, walk.problem)
    elif walk.last_id != cut:
        problem = (walk.last_id + 1, f"row {walk.last_id + 1} is missing (deleted)")
    else:
        for subject in _erasure_subjects_after(session, cut):
            walk.uncovered_erasures.pop(subject, None)
        problem = _erasure_problem(walk.uncovered_erasures)
    if problem is not None:
        raise AuditChainBroken(f"refusing to purge a broken chain: row {problem[0]}: {problem[1]}")
    locked = lock_head(session)
    if locked.anchor_id != head.anchor_id:
        raise Conflict("another purge ran at the same time; run the purge again")
    removed = rows_affected(session.execute(delete(AuditEvent).where(AuditEvent.id <= cut)))
    session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(anchor_id=cut, anchor_hash=walk.last_hash)
        .execution_options(synchronize_session=False)
    )
    event_id = record(
        session,
        action=PURGE_ACTION,
        decision="info",
        principal_id=actor_id,
        reason=f"retention: purged {removed} audit rows created before {before.isoformat()}",
        details={
            "before": before.isoformat(),
            "removed": removed,
            "first_id": head.anchor_id + 1,
            "last_id": cut,
            "anchor_hash": walk.last_hash,
        },
    )
    return PurgeResult(removed, before, cut, event_id)


def _erasure_subjects_after(session: Session, after_id: int) -> set[str]:
    details = session.scalars(
        select(AuditEvent.details).where(
            AuditEvent.id > after_id, AuditEvent.action == ERASE_ACTION, AuditEvent.erased_at.is_(None)
        )
    )
    return {str(d.get("subject_principal_id")) for d in details if isinstance(d, dict)}
