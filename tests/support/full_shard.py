"""Run as a child process: write to a vector shard whose disk fills up, then frees. SIGBUS would kill it.

Usage: python -m tests.support.full_shard FOLDER RESERVE_BYTES. Prints one line per step."""

from __future__ import annotations

import random
import sys
import uuid
from pathlib import Path

from services.core.errors import StorageUnavailable
from services.core.vectorstore.edge import QdrantEdgeStore
from services.core.vectorstore.port import ChunkPoint


def _points(rng: random.Random, count: int, document_id: str) -> list[ChunkPoint]:
    return [
        ChunkPoint(
            id=str(uuid.UUID(int=rng.getrandbits(128))),
            vector=[rng.random() for _ in range(384)],
            document_id=document_id,
            chunk_index=i,
            groups=["everyone"],
            title="Leave policy",
            heading="Carry-over",
            text="Unused leave carries over to the next year. " * 10,
            text_hash=f"{document_id}-{i}",
        )
        for i in range(count)
    ]


def main(folder: Path, reserve_bytes: int) -> None:
    rng = random.Random(7)
    store = QdrantEdgeStore(folder / "vectors", "chunks", disk_reserve_bytes=reserve_bytes)
    store.ensure_collection(384)
    store.upsert(_points(rng, 50, "before"))
    ballast = folder / "ballast"
    with ballast.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError:
            pass  # the disk is full
    try:
        store.upsert(_points(rng, 500, "during"))
        print("written", flush=True)
    except StorageUnavailable as exc:
        print(f"refused {exc.code}", flush=True)
    print(f"count {store.count()}", flush=True)
    ballast.unlink()
    store.upsert(_points(rng, 500, "after"))
    print(f"count {store.count()}", flush=True)
    store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
