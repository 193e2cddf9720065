"""The reconciler: finds where the vector index and the database disagree, and repairs it.

What it looks for, per point in the index: a document that no longer exists (an orphan), access (groups,
classification) other than the document row's, a staged point no ingestion is working on, and a live point that
is not one of the document's chunk rows; per ready document: chunk rows with no point (missing).

A first pass scans without locks and names the suspect documents; each is then checked again, and repaired,
under its row lock (services/core/db/locks.py). Everything that changes a document's chunks takes the same lock,
so an access change half-way (narrowed, not yet committed) or a version going live is never mistaken for drift.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.core.access.index import Access
from services.core.db.locks import lock_document
from services.core.db.models import Chunk, Document, IngestJob, utcnow
from services.core.db.session import session_scope
from services.core.jobs.outbox import Outbox
from services.core.vectorstore import VectorStore

log = logging.getLogger(__name__)

EXAMPLES = 20  # document ids kept per kind of drift, for the report


@dataclass
class DriftReport:
    """What disagreed (and, after a repair, what was repaired). Counts are points, except `missing_chunks`."""

    points_scanned: int = 0
    documents_checked: int = 0
    orphan_points: int = 0
    acl_drift_points: int = 0
    stale_staged_points: int = 0
    extra_points: int = 0
    missing_chunks: int = 0
    repaired: bool = False
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def drift(self) -> int:
        return (
            self.orphan_points
            + self.acl_drift_points
            + self.stale_staged_points
            + self.extra_points
            + self.missing_chunks
        )

    def note(self, kind: str, document_id: str, count: int) -> None:
        setattr(self, kind, getattr(self, kind) + count)
        if count and len(self.examples[kind]) < EXAMPLES and document_id not in self.examples[kind]:
            self.examples[kind].append(document_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "points_scanned": self.points_scanned,
            "documents_checked": self.documents_checked,
            "orphan_points": self.orphan_points,
            "acl_drift_points": self.acl_drift_points,
            "stale_staged_points": self.stale_staged_points,
            "extra_points": self.extra_points,
            "missing_chunks": self.missing_chunks,
            "drift": self.drift,
            "repaired": self.repaired,
            "examples": {k: list(v) for k, v in self.examples.items() if v},
        }


@dataclass
class _Points:
    """One document's points as the scan saw them (id -> (groups, classification, state))."""

    seen: dict[str, tuple[tuple[str, ...], str, str]] = field(default_factory=dict)


class Reconciler:
    """Compares the index with the database; repairs under each document's row lock."""

    def __init__(self, *, sessions: sessionmaker[Session], vector_store: VectorStore, outbox: Outbox | None) -> None:
        self._sessions = sessions
        self._store = vector_store
        self._outbox = outbox  # to queue a document again when chunks are missing from the index

    def run(self, repair: bool) -> DriftReport:
        report = DriftReport(repaired=repair)
        by_document: dict[str, _Points] = defaultdict(_Points)
        for point_id, payload in self._store.scan():
            report.points_scanned += 1
            groups = tuple(sorted(payload.get("groups") or ()))
            by_document[str(payload.get("document_id", ""))].seen[point_id] = (
                groups,
                str(payload.get("classification") or ""),
                str(payload.get("state") or "live"),
            )
        suspects = set(self._suspects(by_document))
        suspects |= self._ready_without_points(set(by_document))
        for document_id in sorted(suspects):
            self._check(document_id, report, repair)
        if report.drift:
            log.warning("index drift: %s", report.as_dict())
        return report

    def _suspects(self, by_document: dict[str, _Points]) -> Iterable[str]:
        """Documents whose points, read without locks, may disagree with their rows."""
        with session_scope(self._sessions) as session:
            for document_id, points in by_document.items():
                row = session.get(Document, document_id)
                if row is None or row.lease_owner is not None:
                    yield document_id  # an orphan, or being ingested (checked again under the lock)
                    continue
                chunk_ids = set(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))
                access = Access.of(row)
                expected = (access.groups, access.classification, "live")
                if set(points.seen) != chunk_ids or any(seen != expected for seen in points.seen.values()):
                    yield document_id

    def _ready_without_points(self, indexed: set[str]) -> set[str]:
        with session_scope(self._sessions) as session:
            ready = set(
                session.scalars(select(Document.id).where(Document.status == "ready", Document.chunk_count > 0))
            )
        return ready - indexed

    def _check(self, document_id: str, report: DriftReport, repair: bool) -> None:
        """One document, again, under its row lock: count what disagrees and (with `repair`) put it right."""
        report.documents_checked += 1
        with session_scope(self._sessions) as session:
            if not lock_document(session, document_id):
                orphans = self._store.document_points(document_id)
                report.note("orphan_points", document_id, len(orphans))
                if repair and orphans:
                    self._store.delete_document(document_id)
                return
            row = session.get(Document, document_id)
            assert row is not None
            points = self._store.document_points(document_id)
            ingesting = row.lease_owner is not None and (row.lease_expires_at or utcnow()) > utcnow()
            access = Access.of(row)
            wanted = (access.groups, access.classification)
            # While a version is being ingested its staged points may carry the access of when it was claimed;
            # no search sees them, and they get the row's access when they go live.
            wrong_access = [
                pid
                for pid, p in points.items()
                if (tuple(sorted(p.get("groups") or ())), p.get("classification")) != wanted
                and not (ingesting and p.get("state") == "staged")
            ]
            report.note("acl_drift_points", document_id, len(wrong_access))
            if repair and wrong_access:
                self._store.set_document_payload(document_id, access.payload())
            if ingesting:
                return  # staged points and a changing chunk set are what ingestion looks like
            chunk_ids = set(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))
            staged = [pid for pid, p in points.items() if p.get("state") == "staged"]
            extra = [pid for pid, p in points.items() if pid not in chunk_ids and p.get("state") != "staged"]
            missing = chunk_ids - set(points)
            report.note("stale_staged_points", document_id, len(staged))
            report.note("extra_points", document_id, len(extra))
            report.note("missing_chunks", document_id, len(missing))
            if repair and (staged or extra):
                self._store.delete_points([*staged, *extra])
            if repair and missing:
                self._requeue(session, row)

    def _requeue(self, session: Session, row: Document) -> None:
        """Chunks missing from the index: ingest the current version again (unchanged chunks are reused)."""
        row.status, row.stage, row.progress = "queued", "queued", 0
        job = IngestJob(document_id=row.id, version=row.version)
        session.add(job)
        session.flush()
        job_id = job.id
        session.commit()
        if self._outbox is not None:
            self._outbox.publish(job_id, row.id)
        log.warning("document %s has chunks missing from the index; queued again", row.id)
