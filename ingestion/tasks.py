"""Celery task definitions. Tasks take ids, own their sessions, and are safe to run twice."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import Celery, Task
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ingestion import lease
from ingestion.pipeline import Ingestor
from services.core.db.models import Document, utcnow
from services.core.db.session import session_scope
from services.core.jobs.queue import INGEST_DOCUMENT

log = logging.getLogger(__name__)


def backoff_s(retries: int, cap_s: float) -> float:
    """2, 4, 8 ... seconds with ±25% jitter, so a crowd of failed jobs does not retry in lockstep."""
    return min(2.0 ** (retries + 1), cap_s) * random.uniform(0.75, 1.25)


def register_tasks(
    app: Celery, *, ingestor: Ingestor, sessions: sessionmaker[Session], max_retries: int, backoff_max_s: float
) -> None:
    """Bind the ingestion tasks to `app`, each run going through the process's one `ingestor`."""

    # shared=False: each Celery app (one per runtime) gets its own task bound to its own runtime.
    # acks_late + reject_on_worker_lost: the message is acknowledged only after the work is done, and a
    # worker killed mid-job hands it back to the queue instead of acknowledging it.
    @app.task(
        name=INGEST_DOCUMENT,
        bind=True,
        max_retries=max_retries,
        acks_late=True,
        reject_on_worker_lost=True,
        shared=False,
    )
    def ingest(task: Task, document_id: str) -> str:
        owner = f"{task.request.hostname}:{task.request.id}"
        try:
            return ingestor.ingest(document_id, owner).status
        except Exception as exc:
            # Input problems were already recorded as a failed document; what reaches here is transient
            # (database busy, vector store hiccup, broker blip) and worth another try with backoff.
            retries = task.request.retries
            if retries >= max_retries:
                ingestor.fail_after_retries(document_id, owner, f"ingestion failed after {retries + 1} attempts: {exc}")
                return "failed"
            countdown = backoff_s(retries, backoff_max_s)
            _note_retry(sessions, document_id, owner, f"attempt {retries + 1} failed: {exc}", countdown)
            log.warning(
                "ingesting %s failed (%s); retry %d/%d in %.0fs", document_id, exc, retries + 1, max_retries, countdown
            )
            raise task.retry(exc=exc, countdown=countdown) from exc


def _note_retry(sessions: sessionmaker[Session], document_id: str, owner: str, reason: str, countdown_s: float) -> None:
    """Show the retry on the job and free the document, so the retry (on any worker) can claim it."""
    try:
        with session_scope(sessions) as session:
            document = session.scalar(select(Document).where(Document.id == document_id, Document.lease_owner == owner))
            if document is None:
                return
            lease.release(session, document)
            job = lease.current_job(session, document_id, document.version)
            job.status, job.error = "retrying", reason
            job.enqueued_at = utcnow() + timedelta(seconds=countdown_s)
    except Exception:  # the database may be what failed; the lease then simply expires
        log.exception("could not record the retry of %s", document_id)
