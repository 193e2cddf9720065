"""Group commit for the audit chain: many requests' events appended in one transaction, under one chain lock.

Every event is a link of one hash chain, so appends are serialised by its head row. Written one request at a
time, concurrent searches queue behind each other's commits. Here a single writer thread takes whatever events
are waiting, appends them in one transaction and wakes their requests: a request still returns only after its
events are committed (nothing is lost on a crash that the caller was told was recorded), but N waiting
requests cost one lock, one multi-row insert and one commit instead of N of each.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.core.audit.log import record_many
from services.core.db.session import session_scope

log = logging.getLogger(__name__)

MAX_BATCH = 256
WAIT_S = 30.0


@dataclass
class _Batch:
    """One request's events, committed together or not at all."""

    events: Sequence[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditWriter:
    """Appends events to the audit chain for many threads at once; `append` returns once they are committed."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="steward-audit-writer", daemon=True)
        self._thread.start()

    def append(self, events: Sequence[dict[str, Any]]) -> None:
        """Record `events` (keyword arguments of services.core.audit.log.record), in order, atomically."""
        batch = _Batch(events)
        self._queue.put(batch)
        if not batch.done.wait(WAIT_S):
            raise TimeoutError("the audit log did not record the request in time")
        if batch.error is not None:
            raise batch.error

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batches = [first]
            while len(batches) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this round
                    break
                batches.append(more)
            self._write(batches)

    def _write(self, batches: list[_Batch]) -> None:
        try:
            with session_scope(self._sessions) as session:
                record_many(session, [event for batch in batches for event in batch.events])
        except Exception as exc:
            if len(batches) == 1:
                batches[0].error = exc
            else:  # one bad batch must not fail the others: write them one at a time
                for batch in batches:
                    self._write([batch])
                return
            log.exception("audit write failed")
        for batch in batches:
            batch.done.set()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
