"""Runs the ingestion worker: inside the API process (embedded) or as its own process (production).

This is an edge: it builds the ingestor and the background threads from the process's runtime.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid

from celery.worker import WorkController

from ingestion.lease import Leases
from ingestion.parsers import ParseLimits
from ingestion.pipeline import IngestConfig, Ingestor
from ingestion.preparation import Preparer
from ingestion.tasks import register_tasks
from services.core.jobs.periodic import Periodic
from services.core.jobs.queue import INGEST_DOCUMENT, INGEST_QUEUE
from services.core.runtime import Runtime
from services.core.settings import Settings
from services.core.vectorstore.maintenance import optimize_index

log = logging.getLogger(__name__)


def build_ingestor(runtime: Runtime, preparer: Preparer, leases: Leases | None = None) -> Ingestor:
    settings = runtime.settings
    return Ingestor(
        sessions=runtime.sessions,
        leases=leases or Leases(sessions=runtime.sessions, lease_s=settings.ingest_lease_s),
        blobs=runtime.blobs,
        vector_store=runtime.live_index,
        batcher=runtime.live_index,
        pin=runtime.live_index.pinned,
        sparse_encoder=runtime.sparse_encoder,
        pii=runtime.pii,
        preparer=preparer,
        scan_injection=runtime.injection_scanner,
        sentences=runtime.sentence_encoder,
        config=IngestConfig(
            limits=ParseLimits(
                max_pdf_pages=settings.max_pdf_pages, max_spreadsheet_cells=settings.max_spreadsheet_cells
            ),
            embedding_model=settings.embedding_model,
            chunk_size_tokens=settings.chunk_size_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens,
        ),
    )


def _worker_options(settings: Settings) -> dict[str, object]:
    return {
        "pool_cls": "threads",  # threads share this process's vector store; prefork could not
        "concurrency": settings.worker_concurrency,
        "queues": [INGEST_QUEUE],
        "hostname": f"steward-{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
        "without_heartbeat": True,
        "without_mingle": True,
        "without_gossip": True,
        "optimization": "fair",
    }


class WorkerParts:
    """What a worker runs beside Celery's consumer: the parsing helper, the lease keeper, the outbox sweeper, the
    index optimizer, the reconciler.

    The first worker on a Celery app binds the ingestion tasks to its ingestor; a second worker on the same app
    (more consumers in one process) shares those tasks and so needs no parsing helper of its own."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._embedding_model = settings.embedding_model
        store = runtime.vector_store
        self._loops = [
            Periodic("outbox-sweeper", settings.ingest_sweep_interval_s, runtime.outbox.sweep),
            Periodic("index-optimizer", settings.index_optimize_interval_s, lambda: optimize_index(store), join_s=60),
            Periodic("reconciler", settings.reconcile_interval_s, lambda: runtime.reconciler.run(repair=True)),
        ]
        self._preparer: Preparer | None = None
        self._warm = False
        if INGEST_DOCUMENT not in runtime.celery.tasks:
            self._preparer = Preparer(settings.ingest_parse_processes, settings.ingest_parse_memory_mb)
            leases = Leases(sessions=runtime.sessions, lease_s=settings.ingest_lease_s)
            # Only the worker that owns the ingestor holds leases; a second one on the same app shares them.
            self._loops.insert(0, Periodic("lease-keeper", leases.keep_interval_s, leases.keep))
            register_tasks(
                runtime.celery,
                ingestor=build_ingestor(runtime, self._preparer, leases),
                sessions=runtime.sessions,
                max_retries=settings.ingest_max_retries,
                backoff_max_s=settings.ingest_retry_backoff_max_s,
            )

    def warm(self) -> None:
        """Start the parsing helper and load what it needs, so the first document does not pay for it."""
        if self._preparer is not None and not self._warm:
            self._preparer.warm(self._embedding_model)
            self._warm = True

    def start(self) -> None:
        self.warm()
        for loop in self._loops:
            loop.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
        if self._preparer is not None:
            self._preparer.close()


class InProcessWorker:
    """A real Celery worker on a thread of the API process, so one object owns the embedded shard."""

    def __init__(self, runtime: Runtime) -> None:
        self._parts = WorkerParts(runtime)
        self._concurrency = runtime.settings.worker_concurrency
        # The thread pool looks tasks up on Celery's process-wide default app; make it ours.
        runtime.celery.set_default()
        self._controller = WorkController(app=runtime.celery, **_worker_options(runtime.settings))
        self._thread = threading.Thread(target=self._controller.start, name="steward-worker", daemon=True)

    def warm(self) -> None:
        """Everything but consuming: a bench times ingestion, not start-up."""
        self._parts.warm()

    def start(self) -> None:
        self._parts.start()
        self._thread.start()
        log.info("in-process ingestion worker started (%d threads)", self._concurrency)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._controller.stop(in_sighandler=False)
        self._thread.join(timeout_s)
        self._parts.stop()


def run_worker(settings: Settings) -> None:
    """Block running a standalone worker process (production, or the embedded profile without serve)."""
    runtime = Runtime.build(settings)
    parts = WorkerParts(runtime)
    parts.start()
    try:
        # app.Worker (unlike a bare WorkController) installs SIGTERM/SIGINT handlers for a warm shutdown.
        runtime.celery.Worker(**_worker_options(settings)).start()
    finally:
        parts.stop()
        runtime.close()
