"""Vector store on Qdrant Edge: the Qdrant engine in-process, one shard directory per collection."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from services.core.errors import ConfigurationError
from services.core.vectorstore import INDEXED_FIELDS, SUMMARY_FIELDS, chunk_payload, scored_chunk
from services.core.vectorstore.port import ChunkPoint, ScoredChunk

CONFIG_FILE = "edge_config.json"


class QdrantEdgeStore:
    """Owns the shard at `path/collection`; one instance per process (the shard's WAL lock is exclusive)."""

    def __init__(self, path: Path, collection: str) -> None:
        self.shard_dir = Path(path) / collection
        # One lock serialises every call: the engine tolerates concurrent calls, but close() would pull
        # the shard from under an in-flight query, and threads gain no throughput on it anyway.
        self._lock = threading.Lock()
        self._closed = False
        self._shard: qe.EdgeShard | None = None
        self._dimension: int | None = None
        if (self.shard_dir / CONFIG_FILE).exists():
            self._shard = self._open(lambda: qe.EdgeShard.load(str(self.shard_dir)))
            self._dimension = self._stored_dimension()

    def ensure_collection(self, dimension: int) -> None:
        """Create the shard if missing (cosine distance); idempotent."""
        with self._lock:
            self._check_open()
            if self._shard is None and (self.shard_dir / CONFIG_FILE).exists():
                # Created by another handle since we were constructed.
                self._shard = self._open(lambda: qe.EdgeShard.load(str(self.shard_dir)))
                self._dimension = self._stored_dimension()
            if self._shard is None:
                config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine))
                self._shard = self._open(lambda: qe.EdgeShard.create(str(self.shard_dir), config))
                self._dimension = dimension
            elif self._dimension is not None and self._dimension != dimension:
                raise ConfigurationError(
                    f"the vector shard at {self.shard_dir} holds vectors of dimension {self._dimension}, "
                    f"but the embedding model gives {dimension}; re-index into a new collection"
                )
            existing = self._shard.info().payload_schema
            for name in INDEXED_FIELDS:
                if name not in existing:
                    self._shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id."""
        if not points:
            return
        batch = [qe.Point(p.id, [float(x) for x in p.vector], chunk_payload(p)) for p in points]
        with self._lock:
            self._require_shard().update(qe.UpdateOperation.upsert_points(batch))

    def search(self, vector: Sequence[float], limit: int, allowed_groups: Sequence[str] | None) -> list[ScoredChunk]:
        """Nearest chunks, best first, with the ACL filter inside the query."""
        if allowed_groups is not None and not allowed_groups:
            return []
        query_filter = None
        if allowed_groups is not None:
            query_filter = qe.Filter(must=[qe.FieldCondition("groups", match=qe.MatchAny(list(allowed_groups)))])
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest([float(x) for x in vector]),
            filter=query_filter,
            with_payload=True,
        )
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            hits = self._shard.query(request)
        return [scored_chunk(h.id, h.score, h.payload) for h in hits]

    def delete_document(self, document_id: str) -> None:
        """Remove every point of a document."""
        with self._lock:
            self._check_open()
            if self._shard is not None:
                self._shard.update(qe.UpdateOperation.delete_points_by_filter(_document_filter(document_id)))

    def document_points(self, document_id: str) -> dict[str, dict[str, Any]]:
        """Every stored point of a document: id -> payload without the text."""
        points: dict[str, dict[str, Any]] = {}
        offset: Any = None
        with self._lock:
            self._check_open()
            if self._shard is None:
                return points
            while True:
                request = qe.ScrollRequest(
                    offset=offset,
                    limit=1000,
                    filter=_document_filter(document_id),
                    with_payload=qe.PayloadSelector.Include(list(SUMMARY_FIELDS)),
                    with_vector=False,
                )
                records, offset = self._shard.scroll(request)
                points.update((str(r.id), dict(r.payload or {})) for r in records)
                if offset is None:
                    return points

    def set_payloads(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge payload fields into existing points, by id."""
        with self._lock:
            shard = self._require_shard()
            for point_id, payload in updates.items():
                shard.update(qe.UpdateOperation.set_payload([point_id], dict(payload)))

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        if not ids:
            return
        with self._lock:
            self._require_shard().update(qe.UpdateOperation.delete_points(list(ids)))

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""
        request = qe.CountRequest(exact=True, filter=_document_filter(document_id) if document_id is not None else None)
        with self._lock:
            self._check_open()
            return 0 if self._shard is None else self._shard.count(request)

    def close(self) -> None:
        """Flush and release the shard's WAL lock; later calls raise."""
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
            self._shard = None
            self._closed = True

    def _open(self, opener: Callable[[], qe.EdgeShard]) -> qe.EdgeShard:
        try:
            return opener()
        except Exception as exc:
            if "WouldBlock" in str(exc):
                raise ConfigurationError(
                    f"the vector shard at {self.shard_dir} is in use by another process; "
                    "in the embedded profile only `steward serve` may own it"
                ) from exc
            raise

    def _stored_dimension(self) -> int | None:
        # The engine exposes no getter for its vector config; it persists it as JSON beside the segments.
        try:
            config = json.loads((self.shard_dir / CONFIG_FILE).read_text())
            return int(config["vectors"][""]["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the vector store at {self.shard_dir} is closed")

    def _require_shard(self) -> qe.EdgeShard:
        self._check_open()
        if self._shard is None:
            raise RuntimeError("ensure_collection() must run before the first upsert")
        return self._shard


def _document_filter(document_id: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition("document_id", match=qe.MatchValue(document_id))])
