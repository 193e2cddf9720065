"""Exclusive, expiring ownership of a document while one worker ingests it.

Claiming is a compare-and-set on the document row, so two workers handed the same document (a redelivered
message, a swept duplicate) never both write its vectors: the second finds the lease taken and leaves.
A worker renews the lease as it makes progress, and the process's lease keeper renews every lease it holds a few
times per lease period, so a lease runs out only when its worker died (or its task stopped making progress for
`stall_s`), never merely because one step ran long on a busy machine: under load, progress-only renewal let a
live worker's leases lapse, its own sweeper hand the documents to its other threads, and nothing finish.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.core.db.models import Document, IngestJob, utcnow
from services.core.db.session import rows_affected, session_scope


class LeaseLost(Exception):
    """Another worker took the document over (ours expired); stop without touching it further."""


# Progress and lease renewals are written at most this often, unless forced: a small document finishes
# in a fraction of a second and would otherwise spend more time on bookkeeping commits than on parsing.
RENEW_EVERY_S = 1.0


@dataclass
class Claim:
    """What a worker needs to ingest the version it claimed."""

    document_id: str
    owner: str
    version: int
    indexed_version: int
    storage_path: str
    format: str
    filename: str
    title: str
    groups: tuple[str, ...]
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    classification: str = "internal"
    renewed_at: float = field(default_factory=time.monotonic)
    progressed_at: float = field(default_factory=time.monotonic)


class NotClaimed(Exception):
    """The document is not this worker's to ingest; `outcome` says why: deleted, up_to_date or busy."""

    def __init__(self, outcome: Literal["deleted", "up_to_date", "busy"]) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def _finished(document: Document) -> bool:
    return document.status == "ready" and document.indexed_version == document.version


class Leases:
    """Claims and renews documents for workers; a lease not renewed for `lease_s` is free to take over."""

    def __init__(self, *, sessions: sessionmaker[Session], lease_s: float, stall_s: float | None = None) -> None:
        self._sessions = sessions
        self._lease_s = lease_s
        # A task silent this long is presumed stuck: the keeper lets its lease lapse, as if its worker had died.
        self._stall_s = stall_s if stall_s is not None else max(10 * lease_s, 300.0)
        self._held: dict[tuple[str, str], Claim] = {}
        self._held_lock = threading.Lock()

    @property
    def keep_interval_s(self) -> float:
        """How often `keep` should run: three chances to renew before a lease could lapse."""
        return self._lease_s / 3

    def _until(self) -> datetime:
        return utcnow() + timedelta(seconds=self._lease_s)

    def claim(self, document_id: str, owner: str) -> Claim:
        """Take the document for `owner`, or raise NotClaimed saying why not."""
        with session_scope(self._sessions) as session:
            document = session.get(Document, document_id)
            if document is None:
                raise NotClaimed("deleted")
            if _finished(document):
                raise NotClaimed("up_to_date")  # a redelivered or duplicated message for finished work
            now = utcnow()
            taken = rows_affected(
                session.execute(
                    update(Document)
                    .where(
                        Document.id == document_id,
                        or_(
                            Document.lease_owner.is_(None),
                            Document.lease_owner == owner,
                            Document.lease_expires_at < now,
                        ),
                        # Checked again in the same statement: another worker may have finished this version
                        # between the read above and this write, and finished work is not taken again.
                        or_(
                            Document.status != "ready",
                            Document.indexed_version.is_(None),
                            Document.indexed_version != Document.version,
                        ),
                    )
                    .values(
                        lease_owner=owner,
                        lease_expires_at=self._until(),
                        status="processing",
                        stage="parsing",
                        progress=1,
                        error=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if not taken:
                session.refresh(document)
                raise NotClaimed("up_to_date" if _finished(document) else "busy")
            session.refresh(document)
            job = current_job(session, document_id, document.version)
            job.status, job.attempts, job.started_at, job.error = "running", job.attempts + 1, now, None
            claim = Claim(
                document_id=document_id,
                owner=owner,
                version=document.version,
                indexed_version=document.indexed_version,
                storage_path=document.storage_path,
                format=document.format,
                filename=document.filename,
                title=document.title,
                groups=tuple(document.groups),
                tags=tuple(document.tags or ()),
                created_at=document.created_at,
                classification=document.classification,
            )
        with self._held_lock:
            self._held[(claim.document_id, claim.owner)] = claim
        return claim

    def forget(self, claim: Claim) -> None:
        """The task is done with the document (finished, failed, lost it): the keeper stops renewing it."""
        with self._held_lock:
            self._held.pop((claim.document_id, claim.owner), None)

    def keep(self) -> int:
        """Extend the lease of every claim this process holds whose task made progress within `stall_s`;
        returns how many were extended. A claim found lost is forgotten (its task learns at its next renewal)."""
        now = time.monotonic()
        with self._held_lock:
            claims = [c for c in self._held.values() if now - c.progressed_at < self._stall_s]
        kept = 0
        for claim in claims:
            if self._extend(claim):
                kept += 1
            else:
                self.forget(claim)
        return kept

    def renew(self, claim: Claim, stage: str, progress: int, force: bool = False) -> None:
        """Extend the lease and publish progress; raises LeaseLost when the document is no longer ours.

        Without `force`, a renewal within RENEW_EVERY_S of the last is skipped; force it before any step that
        must not run on a lost lease (deleting vectors)."""
        claim.progressed_at = time.monotonic()
        if not force and claim.progressed_at - claim.renewed_at < RENEW_EVERY_S:
            return
        claim.renewed_at = claim.progressed_at
        if not self._extend(claim, stage=stage, progress=min(max(progress, 1), 99)):
            raise LeaseLost(claim.document_id)

    def _extend(self, claim: Claim, **progress: str | int) -> bool:
        """Push the lease's expiry on (and write `progress` fields) if the document is still `claim`'s."""
        with session_scope(self._sessions) as session:
            return bool(
                rows_affected(
                    session.execute(
                        update(Document)
                        .where(Document.id == claim.document_id, Document.lease_owner == claim.owner)
                        .values(lease_expires_at=self._until(), **progress)
                        .execution_options(synchronize_session=False)
                    )
                )
            )


def hold(session: Session, claim: Claim) -> Document:
    """Inside a caller's transaction: the document row, locked, if the lease is still ours.

    The first statement is a write on purpose: it takes the row's lock on PostgreSQL and the database's writer
    lock on SQLite (where FOR UPDATE does nothing), so an access change (PATCH, a new upload) waits for this
    transaction and the access read below cannot change until it commits."""
    touched = session.execute(
        update(Document)
        .where(Document.id == claim.document_id, Document.lease_owner == claim.owner)
        .values(lease_owner=claim.owner)
        .execution_options(synchronize_session=False)
    )
    if not rows_affected(touched):
        raise LeaseLost(claim.document_id)
    document = session.scalar(
        select(Document).where(Document.id == claim.document_id, Document.lease_owner == claim.owner).with_for_update()
    )
    if document is None:
        raise LeaseLost(claim.document_id)
    return document


def release(session: Session, document: Document) -> None:
    document.lease_owner, document.lease_expires_at = None, None


def current_job(session: Session, document_id: str, version: int) -> IngestJob:
    """The newest job for this version of the document (made here for documents that predate jobs)."""
    job = session.scalar(
        select(IngestJob)
        .where(IngestJob.document_id == document_id, IngestJob.version == version)
        .order_by(IngestJob.created_at.desc())
        .limit(1)
    )
    if job is None:
        job = IngestJob(document_id=document_id, version=version)
        session.add(job)
        session.flush()
    return job
