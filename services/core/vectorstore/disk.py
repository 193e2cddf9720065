"""Keeps the in-process vector shard from ever meeting a full disk in the middle of a write.

Qdrant Edge writes its WAL, vectors and payloads through memory maps of files it creates sparse (a new shard:
85 files, 188 MB long, 0.1 MB of it on disk). When the disk is full, the first store into a page with no
block behind it is answered by the kernel with SIGBUS, which kills the whole server: no exception, no log
line, no chance to refuse the write. That is what the load test's full-disk fault did to `steward serve`.

So a write is refused with `StorageUnavailable` unless a reserve stays free for what the write may need (one
statvfs call: a disk that is already full never meets the engine). And the shard's files are given their
blocks (`posix_fallocate` of each file's holes, which fails cleanly with ENOSPC) when the shard is opened and
before a write at most once a `back_interval_s`, so a disk that fills up *during* a write (another process
writing fast) finds the maps already backed, but for files made within the last interval. Walking the shard
before every write would cost about 1 ms a write, a tenth of a short document's bookkeeping. A refused write
changes nothing; the ingestion task retries it later.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from services.core.errors import StorageUnavailable

log = logging.getLogger(__name__)


class ShardDisk:
    """The disk under one shard directory: backs the shard's sparse files and keeps a reserve free."""

    def __init__(self, shard_dir: Path, *, reserve_bytes: int, back_interval_s: float = 1.0) -> None:
        self.shard_dir = shard_dir
        self.reserve_bytes = reserve_bytes
        self.back_interval_s = back_interval_s
        self._can_allocate = True
        self._backed_at = -math.inf

    def before_write(self, *, extra_bytes: int = 0) -> None:
        """Raise StorageUnavailable unless `extra_bytes` plus the reserve are free (backing the files when due)."""
        if time.monotonic() - self._backed_at >= self.back_interval_s:
            self.back_files()
        free = shutil.disk_usage(self._existing_dir()).free
        needed = self.reserve_bytes + extra_bytes
        if free < needed:
            raise StorageUnavailable(
                f"the vector shard's disk has {free // 2**20} MB free and a write needs {needed // 2**20} MB "
                "kept free; nothing was written (free some space; queued documents are retried)"
            )

    def back_files(self) -> int:
        """Allocate the blocks of every sparse file in the shard; returns how many bytes that took."""
        self._backed_at = time.monotonic()
        if not self._can_allocate:
            return 0
        allocated = 0
        for path, status in _files(self.shard_dir):
            hole = status.st_size - status.st_blocks * 512
            if hole > 0:
                allocated += hole
                self._allocate(path, status.st_size)
        return allocated

    def allocated_bytes(self) -> int:
        """Bytes the shard's files occupy on the disk."""
        return sum(status.st_blocks * 512 for _, status in _files(self.shard_dir))

    def _allocate(self, path: str, size: int) -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StorageUnavailable(
                    "the vector shard's disk is full; nothing was written (free some space; queued documents "
                    "are retried)"
                ) from exc
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                # A filesystem without fallocate: only the reserve protects the shard there.
                log.warning("%s cannot preallocate files (%s); keeping only a free-space reserve", path, exc)
                self._can_allocate = False
                return
            raise
        finally:
            os.close(fd)

    def _existing_dir(self) -> Path:
        path = self.shard_dir
        while not path.exists() and path != path.parent:
            path = path.parent
        return path


def _files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under `root` with its status (scandir: a third of what Path.rglob costs)."""
    pending = [str(root)]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except FileNotFoundError:  # not created yet, or a segment the engine just merged away
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path, entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
