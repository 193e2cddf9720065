"""One background duty of a worker process, run every so often on a daemon thread.

The outbox sweeper, the index optimizer, the reconciler and the lease keeper are all this: an action that must
not die of one failure (a database or index hiccup) and must stop promptly when the worker does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls `action` every `interval_s` until stopped; an exception is logged and the next round tries again."""

    def __init__(self, name: str, interval_s: float, action: Callable[[], object], *, join_s: float = 30.0) -> None:
        self._name = name
        self._interval_s = interval_s
        self._action = action
        self._join_s = join_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"steward-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._join_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._action()
            except Exception:
                if self._stop.is_set():  # a store closed under us at shutdown: nothing to report
                    return
                log.exception("%s failed; trying again in %.0f s", self._name, self._interval_s)
