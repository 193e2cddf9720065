"""kombu's SQLAlchemy transport (the embedded profile's SQLite broker), made to survive a database error.

The stock channel keeps one ORM session for its whole life and never closes it. After one failed commit (a
delivery's, on a full disk) every later call on that channel raises PendingRollbackError and its session keeps
a pooled connection; its read-only methods (`_size`, `_new_queue` on a queue that exists) leave a transaction
open, holding a connection and, on SQLite, a read lock. The load test once found `steward serve` hung after a
full disk, every upload and the outbox sweeper waiting for a connection in this transport's pool
(`QueuePool._do_get` under `_get_or_create`).

Here every operation has a session of its own that ends with it, success or failure, and any SQLAlchemy
error counts as a connection error, so kombu's retry policy reconnects instead of reusing a broken channel.

The transport polls: every empty cycle is a query and a commit per queue. The gateway bench's profile of
`steward serve` found that polling (every 0.2 s) taking 13% of the process's CPU during chat load, CPU the
embedded vLLM shares. So an idle worker backs off, doubling its wait up to `idle_polling_max`, and a message
published in the same process (the API's uploads and the outbox sweeper, in the embedded profile) rings a
doorbell that wakes it at once. A publisher in another process is seen within `idle_polling_max`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from queue import Empty
from typing import Any, TypeVar

from kombu.transport import sqlalchemy as stock
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from services.core.db.session import refuse_read_only_sqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

# Options the transport reads itself; everything else goes to create_engine.
_TRANSPORT_ONLY = (
    "queue_tablename",
    "message_tablename",
    "polling_interval",
    "idle_polling_max",
    "callback",
    "errback",
)
_RETRY_POLICY = ("max_retries", "interval_start", "interval_step", "interval_max", "retry_errors")


class Doorbell:
    """Rung on every publish in this process; a waiting consumer wakes at once instead of at its next poll."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    @property
    def rings(self) -> int:
        return self._rings

    def ring(self) -> None:
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Waits until it rang after `seen` rings or `timeout` passed; True when it rang."""
        with self._condition:
            return self._condition.wait_for(lambda: self._rings != seen, timeout)


DOORBELL = Doorbell()


class Channel(stock.Channel):  # type: ignore[misc]
    """A channel whose session never outlives a failed operation or the channel itself."""

    _engines: dict[str, Any] = {}  # its own cache: the stock class's engines were built with other options

    def _engine_from_config(self) -> Engine:
        options = dict(self.connection.client.transport_options)
        for key in (*_TRANSPORT_ONLY, *_RETRY_POLICY):
            options.pop(key, None)
        engine = create_engine(self.connection.client.hostname, **options)
        if engine.dialect.name == "sqlite":
            refuse_read_only_sqlite(engine, self.connection.client.hostname)  # see services/core/db/session.py
        return engine

    def _guarded(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One session per operation: whatever happens, its transaction ends and its connection goes back.

        The stock methods that only read (`_size`, `_new_queue` on an existing queue) leave a transaction open;
        on SQLite that holds a read lock, which makes other connections' commits wait."""
        try:
            return operation(*args, **kwargs)
        finally:
            self._discard_session()

    def _discard_session(self) -> None:
        """Roll back and close the session, which returns (or, if it is broken, invalidates) its connection."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.rollback()
        except SQLAlchemyError as exc:
            log.debug("broker session rollback failed (%s); closing it anyway", exc)
        finally:
            try:
                session.close()
            except SQLAlchemyError as exc:
                log.debug("broker session close failed (%s)", exc)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._discard_session()

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self._guarded(super()._new_queue, queue, **kwargs)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._guarded(super()._put, queue, payload, **kwargs)
        DOORBELL.ring()

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        return self._guarded(super()._get, queue)  # the SQL transport polls; it takes no timeout

    def _purge(self, queue: str) -> int:
        return self._guarded(super()._purge, queue)

    def _size(self, queue: str) -> int:
        return self._guarded(super()._size, queue)


class Transport(stock.Transport):  # type: ignore[misc]
    """The SQLAlchemy transport with the channel above; any database error is a connection error."""

    Channel = Channel
    connection_errors = (SQLAlchemyError,)  # type: ignore[assignment]
    idle_polling_max = 1.0

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        idle_polling_max = client.transport_options.get("idle_polling_max")
        if idle_polling_max is not None:
            self.idle_polling_max = float(idle_polling_max)
        # Kept across calls: Celery's loop calls drain_events with a 2 s timeout, over and over.
        self._wait = self.polling_interval or 0.0

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> None:
        """Delivers one message, polling every queue; between empty cycles waits `polling_interval`, doubled
        after each full empty wait up to `idle_polling_max`, or until a publish in this process rings the
        doorbell. A delivery or the doorbell starts the waits over."""
        started = time.monotonic()
        assert self.cycle is not None  # set when the connection was established
        while True:
            seen = DOORBELL.rings
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                pass
            else:
                self._wait = self.polling_interval or 0.0
                return
            wait = self._wait
            if timeout is not None:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    raise TimeoutError()
                wait = min(wait, left)
            if DOORBELL.wait(seen, wait):
                self._wait = self.polling_interval or 0.0
            elif wait < self._wait:
                raise TimeoutError()  # the caller's time is up; its next call polls first
            else:
                self._wait = min(max(self._wait * 2, self.polling_interval or 0.0), self.idle_polling_max)


# What Celery is given as `broker_transport`, with the URL's `sqla+` prefix removed (kombu lets the prefix
# choose the transport by its alias, which would bring back the stock one).
TRANSPORT = f"{__name__}:Transport"
