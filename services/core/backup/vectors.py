"""The vector index as JSON lines: each point's id, vectors and whole payload, exactly as the engine holds it.

Dense vectors travel as base64 float32 (what both engines store), so nothing is re-embedded on restore and a
restored index answers exactly as the original did.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from services.core.errors import BackupError
from services.core.vectorstore import SparseVector, StoredPoint, VectorStore

FILE = "vectors/points.jsonl"
IMPORT_BATCH = 256


def dump(store: VectorStore, staging: Path) -> tuple[int, int | None]:
    """Every point to `staging/vectors/points.jsonl`; returns how many and their dimension (None: no point)."""
    path = staging / FILE
    path.parent.mkdir(parents=True)
    count, dimension = 0, None
    with path.open("w", encoding="utf-8") as out:
        for point in store.export_points():
            dimension = dimension or len(point.dense)
            out.write(json.dumps(_encode(point), ensure_ascii=False) + "\n")
            count += 1
    return count, dimension


def clear(store: VectorStore) -> None:
    """Remove every point, a thousand ids at a time."""
    ids = [point_id for point_id, _payload in store.scan()]
    for start in range(0, len(ids), 1000):
        store.delete_points(ids[start : start + 1000])


def load(store: VectorStore, staging: Path, dimension: int | None, expected: int) -> int:
    """Import every point (upserts by id: running it again duplicates nothing); returns how many."""
    if dimension is None:
        return 0
    store.ensure_collection(dimension)
    loaded = 0
    for batch in _batches(staging / FILE, dimension):
        store.import_points(batch)
        loaded += len(batch)
    if loaded != expected:
        raise BackupError(f"the archive holds {loaded} points, its manifest says {expected}")
    return loaded


def _encode(point: StoredPoint) -> dict[str, Any]:
    dense = np.asarray(point.dense, dtype="<f4").tobytes()
    return {
        "id": point.id,
        "dense": base64.b64encode(dense).decode("ascii"),
        "sparse": None if point.sparse is None else [list(point.sparse.indices), list(point.sparse.values)],
        "payload": dict(point.payload),
    }


def _decode(line: str, dimension: int) -> StoredPoint:
    data = json.loads(line)
    dense = np.frombuffer(base64.b64decode(data["dense"]), dtype="<f4")
    if dense.shape != (dimension,):
        raise ValueError(f"a dense vector of {dense.size} values where the index has {dimension}")
    sparse = data.get("sparse")
    return StoredPoint(
        id=str(data["id"]),
        dense=dense.astype(float).tolist(),
        sparse=SparseVector(tuple(sparse[0]), tuple(sparse[1])) if sparse else None,
        payload=dict(data["payload"]),
    )


def _batches(path: Path, dimension: int) -> Iterator[list[StoredPoint]]:
    batch: list[StoredPoint] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                batch.append(_decode(line, dimension))
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise BackupError(f"{FILE} line {number} is not a point: {exc}") from exc
            if len(batch) == IMPORT_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch
