"""Celery task definitions. Tasks take ids, own their sessions, and are safe to run twice."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Celery, Task

from ingestion.pipeline import ingest_document, mark_failed
from services.core.queue import INGEST_DOCUMENT
from services.core.runtime import Runtime

log = logging.getLogger(__name__)


def register_tasks(app: Celery, runtime: Callable[[], Runtime]) -> None:
    """Bind the ingestion tasks to `app`; `runtime` hands each run the process's shared backends."""
    max_retries = runtime().settings.ingest_max_retries

    # shared=False: each Celery app (one per runtime) gets its own task bound to its own runtime.
    @app.task(name=INGEST_DOCUMENT, bind=True, max_retries=max_retries, acks_late=True, shared=False)
    def ingest(task: Task, document_id: str) -> str:
        try:
            return ingest_document(runtime(), document_id)
        except Exception as exc:
            # Input problems were already recorded as a failed document; what reaches here is transient
            # (database busy, vector store hiccup) and worth another try with backoff.
            retries = task.request.retries
            if retries >= max_retries:
                mark_failed(runtime(), document_id, f"ingestion failed after {retries + 1} attempts: {exc}")
                return "failed"
            log.warning("ingesting %s failed (%s); retry %d/%d", document_id, exc, retries + 1, max_retries)
            raise task.retry(exc=exc, countdown=min(2**retries, 30)) from exc
