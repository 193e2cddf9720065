"""kombu's SQLAlchemy transport (the embedded profile's SQLite broker), made to survive a database error.

The stock channel keeps one ORM session for its whole life and never closes it. After one failed commit (a
delivery's, on a full disk) every later call on that channel raises PendingRollbackError and its session keeps
a pooled connection; its read-only methods (`_size`, `_new_queue` on a queue that exists) leave a transaction
open, holding a connection and, on SQLite, a read lock. The load test once found `steward serve` hung after a
full disk, every upload and the outbox sweeper waiting for a connection in this transport's pool
(`QueuePool._do_get` under `_get_or_create`).

Here every operation has a session of its own that ends with it, success or failure, and any SQLAlchemy
error counts as a connection error, so kombu's retry policy reconnects instead of reusing a broken channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from kombu.transport import sqlalchemy as stock
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from services.core.db.session import refuse_read_only_sqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

# Options the transport reads itself; everything else goes to create_engine.
_TRANSPORT_ONLY = ("queue_tablename", "message_tablename", "polling_interval", "callback", "errback")
_RETRY_POLICY = ("max_retries", "interval_start", "interval_step", "interval_max", "retry_errors")


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


# What Celery is given as `broker_transport`, with the URL's `sqla+` prefix removed (kombu lets the prefix
# choose the transport by its alias, which would bring back the stock one).
TRANSPORT = f"{__name__}:Transport"
