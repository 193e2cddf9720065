"""A vector shard meets a full disk with a refusal, never with SIGBUS (services/core/vectorstore/disk.py)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.core.errors import StorageUnavailable
from services.core.vectorstore.disk import ShardDisk
from services.core.vectorstore.edge import QdrantEdgeStore
from services.core.vectorstore.port import ChunkPoint
from tests.support.disks import own_tmpfs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with own_tmpfs(tmp_path / "disk", 256, "filling a disk") as folder:
        yield folder


def _fill_and_write(folder: Path, reserve_bytes: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.full_shard", str(folder), str(reserve_bytes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_full_disk_refuses_the_write_and_loses_nothing(small_disk: Path) -> None:
    done = _fill_and_write(small_disk, reserve_bytes=16 * 2**20)
    assert done.returncode == 0, f"the shard's process died ({done.returncode}): {done.stderr[-2000:]}"
    assert done.stdout.splitlines() == ["refused storage_unavailable", "count 50", "count 550"]


def test_without_the_guard_the_same_write_kills_the_process(small_disk: Path) -> None:
    """What the guard prevents: Qdrant Edge touches a sparse page of a memory map, and the kernel sends SIGBUS."""
    done = _fill_and_write(small_disk, reserve_bytes=0)
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stdout, done.stderr[-2000:])


def test_sparse_files_get_their_blocks(tmp_path: Path) -> None:
    shard = tmp_path / "shard"
    (shard / "segments").mkdir(parents=True)
    sparse = shard / "segments" / "page_0.dat"
    with sparse.open("wb") as handle:
        handle.truncate(8 * 2**20)
    assert sparse.stat().st_blocks * 512 < 8 * 2**20

    disk = ShardDisk(shard, reserve_bytes=1)
    assert disk.back_files() == 8 * 2**20
    assert sparse.stat().st_blocks * 512 >= 8 * 2**20
    assert sparse.stat().st_size == 8 * 2**20  # allocated, not grown
    assert disk.back_files() == 0


def _point(n: int) -> ChunkPoint:
    return ChunkPoint(
        id=f"00000000-0000-0000-0000-{n:012d}",
        vector=[1.0 if i == n % 8 else 0.0 for i in range(8)],
        document_id="doc",
        chunk_index=n,
        groups=["everyone"],
        title="t",
        heading="h",
        text=f"chunk {n}",
        text_hash=str(n),
    )


def _hole(path: Path) -> int:
    return path.stat().st_size - path.stat().st_blocks * 512


def test_a_shard_is_backed_when_opened_and_before_writes(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path, "chunks", disk_reserve_bytes=2**20)
    store.ensure_collection(8)
    files = [p for p in (tmp_path / "chunks").rglob("*") if p.is_file()]
    assert len(files) > 20 and all(_hole(p) <= 0 for p in files)  # the engine made them sparse
    store.upsert([_point(1), _point(2)])
    store.close()

    # Files the engine makes during a write are backed before a later one (at most once a back_interval_s).
    disk = ShardDisk(tmp_path / "chunks", reserve_bytes=2**20, back_interval_s=0)
    late = tmp_path / "chunks" / "segments" / "late.dat"
    with late.open("wb") as handle:
        handle.truncate(2**20)
    disk.before_write()
    assert _hole(late) <= 0


def test_a_write_is_refused_unless_the_reserve_stays_free(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path, "chunks", disk_reserve_bytes=2**20)
    store.ensure_collection(8)
    store.upsert([_point(1), _point(2)])
    store.close()

    more_than_free = shutil.disk_usage(tmp_path).free + 2**30
    greedy = QdrantEdgeStore(tmp_path, "chunks", disk_reserve_bytes=more_than_free)
    with pytest.raises(StorageUnavailable, match="MB free"):
        greedy.upsert([_point(3)])
    with pytest.raises(StorageUnavailable):
        greedy.delete_document("doc")
    assert greedy.count() == 2  # nothing written, nothing deleted
    greedy.close()


def test_the_guard_is_on_by_default() -> None:
    from services.core.settings import Settings

    assert Settings().vector_disk_reserve_mb > 0
