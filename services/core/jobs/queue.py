"""The Celery app both sides share: the API enqueues by task name, the worker registers the tasks."""

from __future__ import annotations

from pathlib import Path

from celery import Celery

from services.core.jobs import sql_broker
from services.core.settings import Settings

INGEST_DOCUMENT = "steward.ingest_document"
INGEST_QUEUE = "steward.ingest"


def make_celery(settings: Settings) -> Celery:
    """A Celery app for the configured broker; the embedded profile's SQLite broker needs its folder."""
    transport_options: dict[str, object] = {
        "polling_interval": settings.broker_poll_interval_s,
        "visibility_timeout": settings.broker_visibility_timeout_s,
    }
    broker_url, broker_transport = settings.broker_url, None
    if broker_url.startswith("sqla+"):
        Path(broker_url.removeprefix("sqla+sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # Our hardened SQLAlchemy transport (see sql_broker); the URL's `sqla+` prefix would pick kombu's own.
        broker_url, broker_transport = broker_url.removeprefix("sqla+"), sql_broker.TRANSPORT
        transport_options = {
            "polling_interval": settings.broker_poll_interval_s,
            "idle_polling_max": max(settings.broker_idle_poll_max_s, settings.broker_poll_interval_s),
        }
    app = Celery("steward", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,  # status lives on the document row, not in a result backend
        task_acks_late=True,  # a worker that dies mid-job leaves it on the queue for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=INGEST_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # An upload waits for the broker at most ~2 s before it is refused with 503, instead of hanging.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1},
        broker_transport_options=transport_options,
        broker_transport=broker_transport,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    return app
