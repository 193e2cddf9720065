"""The ingest_jobs table is the outbox of the ingestion queue.

A job row is committed before its message is published, and it records when it was published. If the
message is lost — the broker was down at upload time, Redis restarted without persistence, a worker died
holding it — the sweeper publishes it again. Tasks are idempotent and documents are leased, so a
duplicate message costs one database read.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from services.core.db.models import Document, IngestJob, utcnow
from services.core.db.session import rows_affected, session_scope
from services.core.jobs.queue import INGEST_DOCUMENT

log = logging.getLogger(__name__)

PENDING = ("queued", "retrying")


class Outbox:
    """Publishes ingestion jobs, and publishes again the ones whose message looks lost."""

    def __init__(self, *, celery: Celery, sessions: sessionmaker[Session], requeue_after_s: float) -> None:
        self._celery = celery
        self._sessions = sessions
        self._requeue_after_s = requeue_after_s

    def publish(self, job_id: str, document_id: str) -> bool:
        """Send the job's message and stamp the row; False (job left for the sweeper) when the broker is down."""
        try:
            self._celery.send_task(INGEST_DOCUMENT, args=[document_id])
        except Exception as exc:  # kombu raises many transport-specific errors; all mean the same here
            log.warning("could not publish ingestion of %s (%s); the outbox sweeper will retry", document_id, exc)
            return False
        with session_scope(self._sessions) as session:
            session.execute(update(IngestJob).where(IngestJob.id == job_id).values(enqueued_at=utcnow()))
        return True

    def sweep(self) -> int:
        """Publish again every pending job whose message looks lost; returns how many were published."""
        now = utcnow()
        cutoff = now - timedelta(seconds=self._requeue_after_s)
        with session_scope(self._sessions) as session:
            rows = session.execute(
                select(IngestJob.id, IngestJob.document_id, IngestJob.enqueued_at)
                .join(Document, Document.id == IngestJob.document_id)
                .where(
                    IngestJob.status.in_(("queued", "retrying", "running")),
                    IngestJob.version == Document.version,
                    or_(IngestJob.enqueued_at.is_(None), IngestJob.enqueued_at < cutoff),
                    # A live lease means a worker is on it right now.
                    or_(Document.lease_owner.is_(None), Document.lease_expires_at < now),
                )
                .limit(1000)
            ).all()
        published = 0
        for job_id, document_id, enqueued_at in rows:
            if not self._claim_republication(job_id, enqueued_at, now):
                continue
            try:
                self._celery.send_task(INGEST_DOCUMENT, args=[document_id])
            except Exception as exc:
                log.warning("outbox sweep: broker unavailable (%s); will try again", exc)
                with session_scope(self._sessions) as session:
                    session.execute(update(IngestJob).where(IngestJob.id == job_id).values(enqueued_at=enqueued_at))
                break
            published += 1
        if published:
            log.info("outbox sweep: published %d ingestion job(s) again", published)
        return published

    def _claim_republication(self, job_id: str, enqueued_at: datetime | None, now: datetime) -> bool:
        """Stamp the job first, so two sweepers (two workers) do not both send it."""
        with session_scope(self._sessions) as session:
            stamp = IngestJob.enqueued_at.is_(None) if enqueued_at is None else IngestJob.enqueued_at == enqueued_at
            return bool(
                rows_affected(
                    session.execute(
                        update(IngestJob)
                        .where(IngestJob.id == job_id, stamp)
                        .values(enqueued_at=now)
                        .execution_options(synchronize_session=False)
                    )
                )
            )
