"""A small disk of a test's own (a tmpfs), to fill up or remount read-only without touching the machine's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def own_tmpfs(folder: Path, size_mb: int, why: str) -> Iterator[Path]:
    """Mount a tmpfs of `size_mb` at `folder` for the block; skip the test, saying `why`, where mounting is not
    allowed (it needs root, which CI on these machines has)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        # Never taken in CI here (it runs as root); elsewhere the test cannot build its fault, so it says why.
        pytest.skip(
            reason=f"mounting a tmpfs needs root ({why} needs a disk of its own): {done.stderr.decode().strip()}"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
