"""Runs the ingestion worker: inside the API process (embedded) or as its own process (production)."""

from __future__ import annotations

import logging
import socket
import threading
import uuid

from celery.worker import WorkController

from ingestion.pipeline import close_preparer, preparer
from ingestion.tasks import register_tasks
from services.core.outbox import OutboxSweeper
from services.core.queue import INGEST_DOCUMENT, INGEST_QUEUE
from services.core.runtime import Runtime
from services.core.settings import Settings
from services.core.vectorstore.maintenance import IndexOptimizer

log = logging.getLogger(__name__)


def _worker_options(runtime: Runtime) -> dict[str, object]:
    return {
        "pool_cls": "threads",  # threads share this process's vector store; prefork could not
        "concurrency": runtime.settings.worker_concurrency,
        "queues": [INGEST_QUEUE],
        "hostname": f"steward-{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
        "without_heartbeat": True,
        "without_mingle": True,
        "without_gossip": True,
        "optimization": "fair",
    }


class InProcessWorker:
    """A real Celery worker on a thread of the API process, so one object owns the embedded shard."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        if INGEST_DOCUMENT not in runtime.celery.tasks:  # a second worker on the same runtime reuses them
            register_tasks(runtime.celery, lambda: runtime)
        # The thread pool looks tasks up on Celery's process-wide default app; make it ours.
        runtime.celery.set_default()
        self._controller = WorkController(app=runtime.celery, **_worker_options(runtime))
        self._thread = threading.Thread(target=self._controller.start, name="steward-worker", daemon=True)
        self._sweeper = OutboxSweeper(runtime)
        self._optimizer = IndexOptimizer(runtime.vector_store, runtime.settings.index_optimize_interval_s)

    def start(self) -> None:
        preparer(self.runtime).warm(self.runtime.settings.embedding_model)
        self._thread.start()
        self._sweeper.start()
        self._optimizer.start()
        log.info("in-process ingestion worker started (%d threads)", self.runtime.settings.worker_concurrency)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._sweeper.stop()
        self._optimizer.stop()
        self._controller.stop(in_sighandler=False)
        self._thread.join(timeout_s)
        close_preparer(self.runtime)


def run_worker(settings: Settings) -> None:
    """Block running a standalone worker process (production, or the embedded profile without serve)."""
    runtime = Runtime.build(settings)
    register_tasks(runtime.celery, lambda: runtime)
    preparer(runtime).warm(runtime.settings.embedding_model)
    sweeper = OutboxSweeper(runtime)
    sweeper.start()
    optimizer = IndexOptimizer(runtime.vector_store, runtime.settings.index_optimize_interval_s)
    optimizer.start()
    try:
        # app.Worker (unlike a bare WorkController) installs SIGTERM/SIGINT handlers for a warm shutdown.
        runtime.celery.Worker(**_worker_options(runtime)).start()
    finally:
        sweeper.stop()
        optimizer.stop()
        close_preparer(runtime)
        runtime.close()
