"""Vector store on a Qdrant server through qdrant-client (or its in-memory local mode for tests)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from qdrant_client import QdrantClient, models

from services.core.errors import ConfigurationError
from services.core.vectorstore import INDEXED_FIELDS, SUMMARY_FIELDS, chunk_payload, scored_chunk
from services.core.vectorstore.port import ChunkPoint, ScoredChunk


class QdrantServerStore:
    """One collection on a Qdrant server; `url=":memory:"` runs qdrant-client's pure-Python local mode."""

    def __init__(self, url: str, collection: str, api_key: str | None = None) -> None:
        self.collection = collection
        self._local = url == ":memory:"
        self._client = QdrantClient(location=":memory:") if self._local else QdrantClient(url=url, api_key=api_key)
        # The HTTP client is thread-safe; local mode mutates plain Python structures.
        self._lock: AbstractContextManager[object] = threading.Lock() if self._local else nullcontext()
        self._exists = False

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection if missing (cosine distance); idempotent."""
        with self._lock:
            if not self._client.collection_exists(self.collection):
                self._client.create_collection(
                    self.collection,
                    vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                )
            else:
                vectors = self._client.get_collection(self.collection).config.params.vectors
                size = vectors.size if isinstance(vectors, models.VectorParams) else None
                if size is not None and size != dimension:
                    raise ConfigurationError(
                        f"Qdrant collection {self.collection!r} holds vectors of dimension {size}, "
                        f"but the embedding model gives {dimension}; re-index into a new collection"
                    )
            if not self._local:  # local mode ignores keyword indexes and warns about them
                for name in INDEXED_FIELDS:
                    self._client.create_payload_index(
                        self.collection, name, models.PayloadSchemaType.KEYWORD, wait=True
                    )
            self._exists = True

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id."""
        if not points:
            return
        batch = [
            models.PointStruct(id=p.id, vector=[float(x) for x in p.vector], payload=chunk_payload(p)) for p in points
        ]
        with self._lock:
            self._client.upsert(self.collection, points=batch, wait=True)

    def search(self, vector: Sequence[float], limit: int, allowed_groups: Sequence[str] | None) -> list[ScoredChunk]:
        """Nearest chunks, best first, with the ACL filter inside the query."""
        if allowed_groups is not None and not allowed_groups:
            return []
        query_filter = None
        if allowed_groups is not None:
            query_filter = models.Filter(
                must=[models.FieldCondition(key="groups", match=models.MatchAny(any=list(allowed_groups)))]
            )
        with self._lock:
            if not self._collection_exists():
                return []
            response = self._client.query_points(
                self.collection,
                query=[float(x) for x in vector],
                query_filter=query_filter,
                limit=limit,
                with_payload=True,
            )
        return [scored_chunk(h.id, h.score, h.payload) for h in response.points]

    def delete_document(self, document_id: str) -> None:
        """Remove every point of a document."""
        with self._lock:
            if self._collection_exists():
                self._client.delete(
                    self.collection,
                    points_selector=models.FilterSelector(filter=_document_filter(document_id)),
                    wait=True,
                )

    def document_points(self, document_id: str) -> dict[str, dict[str, Any]]:
        """Every stored point of a document: id -> payload without the text."""
        points: dict[str, dict[str, Any]] = {}
        offset: Any = None
        with self._lock:
            if not self._collection_exists():
                return points
            while True:
                records, offset = self._client.scroll(
                    self.collection,
                    scroll_filter=_document_filter(document_id),
                    limit=1000,
                    offset=offset,
                    with_payload=list(SUMMARY_FIELDS),
                    with_vectors=False,
                )
                points.update((str(r.id), dict(r.payload or {})) for r in records)
                if offset is None:
                    return points

    def set_payloads(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge payload fields into existing points, by id, in one request."""
        if not updates:
            return
        operations: list[models.UpdateOperation] = [
            models.SetPayloadOperation(set_payload=models.SetPayload(payload=dict(payload), points=[point_id]))
            for point_id, payload in updates.items()
        ]
        with self._lock:
            self._client.batch_update_points(self.collection, operations, wait=True)

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        if not ids:
            return
        with self._lock:
            self._client.delete(self.collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""
        count_filter = _document_filter(document_id) if document_id is not None else None
        with self._lock:
            if not self._collection_exists():
                return 0
            return self._client.count(self.collection, count_filter=count_filter, exact=True).count

    def close(self) -> None:
        """Close the client's connections."""
        with self._lock:
            self._client.close()

    def _collection_exists(self) -> bool:
        # Another process (the worker) may create the collection; ask until it exists, then trust it.
        if not self._exists:
            self._exists = self._client.collection_exists(self.collection)
        return self._exists


def _document_filter(document_id: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))])
