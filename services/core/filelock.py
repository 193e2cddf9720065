"""A cross-process exclusive lock on a file, for work that two processes must not do at once."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an fcntl lock on `path` (created if missing): a second holder, in any process, waits its turn.
    Used where a shared cache is built in place (the servable model, an evaluation's ingested corpus)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
