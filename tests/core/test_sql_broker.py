"""The embedded profile's SQLite broker survives a failed database write (services/core/jobs/sql_broker.py).

kombu's own SQLAlchemy channel keeps one session for life: after one failed commit every later call on the
channel raises PendingRollbackError, and the session keeps a pooled connection checked out. Failure is injected
with a trigger that aborts the update a delivery makes, as a full disk does."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Queue
from sqlalchemy.exc import SQLAlchemyError

from services.core.jobs import sql_broker
from services.core.jobs.queue import INGEST_QUEUE, make_celery
from tests.support.settings import make_settings


def _checked_out(url: str) -> int:
    engine, _ = sql_broker.Channel._engines[url]
    return int(engine.pool.checkedout())


def test_a_failed_delivery_keeps_the_message_and_the_channel(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    with Connection(url, transport=sql_broker.Transport) as connection:
        channel = connection.channel()
        channel._new_queue("jobs")
        channel._put("jobs", {"body": "document-1"})

        database = sqlite3.connect(tmp_path / "broker.sqlite")
        database.execute(
            "CREATE TRIGGER full BEFORE UPDATE ON kombu_message BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
        )
        database.commit()
        try:
            channel._get("jobs")
        except SQLAlchemyError as exc:
            assert isinstance(exc, connection.connection_errors)  # kombu reconnects and retries
        else:
            raise AssertionError("the delivery's update should have failed")
        assert _checked_out(url) == 0

        database.execute("DROP TRIGGER full")
        database.commit()
        database.close()
        assert channel._get("jobs") == {"body": "document-1"}  # still there, and the same channel works
        assert _checked_out(url) == 0
        channel.close()


def test_read_only_calls_hold_no_connection(tmp_path: Path) -> None:
    """The stock channel leaves a transaction open after `_size` and `_new_queue`: on SQLite a read lock."""
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    with Connection(url, transport=sql_broker.Transport) as connection:
        channel = connection.channel()
        channel._new_queue("jobs")
        assert _checked_out(url) == 0
        channel._put("jobs", {"body": "x"})
        assert channel._size("jobs") == 1
        assert _checked_out(url) == 0
        channel.close()


def test_the_embedded_profile_publishes_through_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.broker_url.startswith("sqla+sqlite:///")
    celery = make_celery(settings)
    celery.send_task("steward.ingest_document", args=["document-1"])
    with celery.connection_for_read() as connection:
        assert isinstance(connection.transport, sql_broker.Transport)
        assert connection.default_channel._size(INGEST_QUEUE) == 1


def _count_polls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    polls: list[str] = []
    get = sql_broker.Channel._get

    def counted(self: sql_broker.Channel, queue: str, timeout: float | None = None) -> Any:
        polls.append(queue)
        return get(self, queue, timeout)

    monkeypatch.setattr(sql_broker.Channel, "_get", counted)
    return polls


def test_an_idle_consumer_backs_off_across_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's loop calls drain_events with a timeout, over and over. Polling every 0.02 s for five calls of
    0.5 s would be 125 queries, and backing off afresh in every call 25; backing off across calls makes it 13."""
    polls = _count_polls(monkeypatch)
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    options = {"polling_interval": 0.02, "idle_polling_max": 0.32}
    with Connection(url, transport=sql_broker.Transport, transport_options=options) as connection:
        queue = Queue("jobs", routing_key="jobs")
        with connection.Consumer(queue, callbacks=[lambda body, message: message.ack()]):
            for _ in range(5):
                with pytest.raises(TimeoutError):
                    connection.drain_events(timeout=0.5)
    assert 5 <= len(polls) <= 15, polls


def test_a_publish_in_the_same_process_wakes_an_idle_consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an idle wait of a minute, only the doorbell can deliver the message before the consumer gives up."""
    polls = _count_polls(monkeypatch)
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    options = {"polling_interval": 60.0, "idle_polling_max": 60.0}
    received: list[Any] = []

    def consume() -> None:
        with Connection(url, transport=sql_broker.Transport, transport_options=options) as connection:
            queue = Queue("jobs", routing_key="jobs")

            def on_message(body: Any, message: Any) -> None:
                received.append(body)
                message.ack()

            with connection.Consumer(queue, callbacks=[on_message]):
                connection.drain_events(timeout=45.0)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    while not polls and consumer.is_alive():  # publish only once the consumer found the queue empty
        threading.Event().wait(0.01)
    with Connection(url, transport=sql_broker.Transport) as connection:
        connection.Producer().publish(
            {"document": "d-1"}, routing_key="jobs", declare=[Queue("jobs", routing_key="jobs")]
        )
    consumer.join(30)
    assert received == [{"document": "d-1"}]
