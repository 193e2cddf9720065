"""Keeps the in-process vector shard from ever meeting a full disk in the middle of a write.

Qdrant Edge writes its WAL, vectors and payloads through memory maps of files it creates sparse (a new shard:
85 files, 188 MB long, 0.1 MB of it on disk). When the disk is full, the first store into a page with no
block behind it is answered by the kernel with SIGBUS, which kills the whole server: no exception, no log
line, no chance to refuse the write. That is what the load test's full-disk fault did to `steward serve`.

So before every write the shard's files are given their blocks (`posix_fallocate` of each file's holes, which
fails cleanly with ENOSPC), and the write is refused with `StorageUnavailable` unless a reserve stays free for
the files the engine may create during it. A refused write changes nothing; the ingestion task retries it later.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

from services.core.errors import StorageUnavailable

log = logging.getLogger(__name__)


class ShardDisk:
    """The disk under one shard directory: backs the shard's sparse files and keeps a reserve free."""

    def __init__(self, shard_dir: Path, *, reserve_bytes: int) -> None:
        self.shard_dir = shard_dir
        self.reserve_bytes = reserve_bytes
        self._can_allocate = True

    def before_write(self, *, extra_bytes: int = 0) -> None:
        """Raise StorageUnavailable unless a write of about `extra_bytes` (plus the reserve) cannot hit a hole."""
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
        if not self._can_allocate or not self.shard_dir.exists():
            return 0
        allocated = 0
        for path in self.shard_dir.rglob("*"):
            try:
                status = path.lstat()
            except FileNotFoundError:  # the engine removed it meanwhile (a merged segment)
                continue
            if not path.is_file() or path.is_symlink():
                continue
            hole = status.st_size - status.st_blocks * 512
            if hole <= 0:
                continue
            allocated += hole
            self._allocate(path, status.st_size)
        return allocated

    def allocated_bytes(self) -> int:
        """Bytes the shard's files occupy on the disk."""
        if not self.shard_dir.exists():
            return 0
        return sum(p.lstat().st_blocks * 512 for p in self.shard_dir.rglob("*") if p.is_file())

    def _allocate(self, path: Path, size: int) -> None:
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
