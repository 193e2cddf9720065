"""Vector store on a Qdrant server through qdrant-client (or its in-memory local mode for tests)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from qdrant_client import QdrantClient, models

from services.core.errors import ConfigurationError
from services.core.vectorstore.payload import (
    INDEXED_FIELDS,
    SEARCHABLE_STATE,
    SPARSE_VECTOR,
    SUMMARY_FIELDS,
    chunk_payload,
    scored_chunk,
    stored_point,
)
from services.core.vectorstore.plan import RRF_K, RRF_WEIGHTS, Condition, MatchAny, Plan, plan
from services.core.vectorstore.port import ChunkPoint, ScoredChunk, SearchQuery, SparseVector, StoredPoint

log = logging.getLogger(__name__)

_INDEX_TYPES = {"keyword": models.PayloadSchemaType.KEYWORD, "float": models.PayloadSchemaType.FLOAT}
_SPARSE_PARAMS = models.SparseVectorParams(modifier=models.Modifier.IDF)


class QdrantServerStore:
    """One collection on a Qdrant server; `url=":memory:"` runs qdrant-client's pure-Python local mode."""

    def __init__(self, url: str, collection: str, api_key: str | None = None) -> None:
        self.collection = collection
        self._local = url == ":memory:"
        self._client = QdrantClient(location=":memory:") if self._local else QdrantClient(url=url, api_key=api_key)
        # The HTTP client is thread-safe; local mode mutates plain Python structures.
        self._lock: AbstractContextManager[object] = threading.Lock() if self._local else nullcontext()
        self._exists = False
        # Whether the collection has the sparse vector; None until looked up (another process may create it).
        self._sparse: bool | None = None
        self._sparse_problem = ""  # why a collection from before hybrid search could not get it

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection if missing (cosine dense vector, BM25 sparse vector with IDF); idempotent."""
        with self._lock:
            if not self._client.collection_exists(self.collection):
                self._client.create_collection(
                    self.collection,
                    vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
                    sparse_vectors_config={SPARSE_VECTOR: _SPARSE_PARAMS},
                )
                self._sparse = True
            else:
                params = self._client.get_collection(self.collection).config.params
                vectors = params.vectors
                size = vectors.size if isinstance(vectors, models.VectorParams) else None
                if size is not None and size != dimension:
                    raise ConfigurationError(
                        f"Qdrant collection {self.collection!r} holds vectors of dimension {size}, "
                        f"but the embedding model gives {dimension}; re-index into a new collection"
                    )
                self._sparse = SPARSE_VECTOR in (params.sparse_vectors or {})
                if not self._sparse:
                    self._add_sparse_vector()
            if not self._local:  # local mode ignores payload indexes and warns about them
                for name, kind in INDEXED_FIELDS.items():
                    self._client.create_payload_index(self.collection, name, _INDEX_TYPES[kind], wait=True)
            # Points stored before staging existed were all searchable: they are live.
            self._client.set_payload(
                self.collection,
                payload={"state": SEARCHABLE_STATE},
                points=models.FilterSelector(
                    filter=models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="state"))])
                ),
                wait=True,
            )
            self._exists = True

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id (with their sparse vector, when they have one)."""
        if not points:
            return
        with self._lock:
            sparse = self._has_sparse()
            batch = [
                models.PointStruct(
                    id=p.id, vector=_vectors(p.vector, p.sparse, sparse), payload=chunk_payload(p, sparse)
                )
                for p in points
            ]
            self._client.upsert(self.collection, points=batch, wait=True)

    def search(self, query: SearchQuery) -> list[ScoredChunk]:
        """The best chunks in the query's mode, best first, with the ACL and filters inside every branch."""
        planned = plan(query)
        if planned is None:
            return []
        with self._lock:
            if not self._collection_exists():
                return []
            if planned.needs_sparse and not self._has_sparse():
                raise ConfigurationError(
                    f"Qdrant collection {self.collection!r} predates hybrid search and has no sparse vector, so "
                    f"{query.mode} search is unavailable ({self._sparse_problem or 'it was never added'}); dense "
                    "search still works. Upgrade the Qdrant server and restart, or re-index into a new collection "
                    "(STEWARD_COLLECTION)"
                )
            response = self._client.query_points(self.collection, **_query_arguments(planned, query))
        return [scored_chunk(h.id, h.score, h.payload, h.vector) for h in response.points]

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

    def set_document_payload(self, document_id: str, payload: Mapping[str, Any]) -> None:
        """Merge payload fields into every point of a document, by filter, in one request."""
        with self._lock:
            if self._collection_exists():
                self._client.set_payload(
                    self.collection,
                    payload=dict(payload),
                    points=models.FilterSelector(filter=_document_filter(document_id)),
                    wait=True,
                )

    def scan(self, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every point (id, payload without the text), a page at a time."""
        offset: Any = None
        while True:
            with self._lock:
                if not self._collection_exists():
                    return
                records, offset = self._client.scroll(
                    self.collection, limit=batch, offset=offset, with_payload=list(SUMMARY_FIELDS), with_vectors=False
                )
            yield from ((str(r.id), dict(r.payload or {})) for r in records)
            if offset is None:
                return

    def export_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        """Every point with its vectors and whole payload, a page at a time."""
        offset: Any = None
        while True:
            with self._lock:
                if not self._collection_exists():
                    return
                records, offset = self._client.scroll(
                    self.collection, limit=batch, offset=offset, with_payload=True, with_vectors=True
                )
            yield from (stored_point(r.id, r.vector, r.payload) for r in records)
            if offset is None:
                return

    def points(self, ids: Sequence[str]) -> list[StoredPoint]:
        """The points with these ids, vectors and payload, in one request; unknown ids are left out."""
        if not ids:
            return []
        with self._lock:
            if not self._collection_exists():
                return []
            records = self._client.retrieve(self.collection, ids=list(ids), with_payload=True, with_vectors=True)
        return [stored_point(r.id, r.vector, r.payload) for r in records]

    def import_points(self, points: Sequence[StoredPoint]) -> None:
        """Insert or overwrite points exactly as exported, by id, in one request."""
        if not points:
            return
        with self._lock:
            sparse = self._has_sparse()
            batch = [
                models.PointStruct(id=p.id, vector=_vectors(p.dense, p.sparse, sparse), payload=dict(p.payload))
                for p in points
            ]
            self._client.upsert(self.collection, points=batch, wait=True)

    def set_sparse_vectors(self, vectors: Mapping[str, SparseVector], model: str) -> None:
        """Replace the sparse vector of existing points, by id, in one request; dense vectors are untouched."""
        if not vectors:
            return
        operations: list[models.UpdateOperation] = [
            models.UpdateVectorsOperation(
                update_vectors=models.UpdateVectors(
                    points=[
                        models.PointVectors(id=pid, vector={SPARSE_VECTOR: _sparse(v)}) for pid, v in vectors.items()
                    ]
                )
            ),
            models.SetPayloadOperation(
                set_payload=models.SetPayload(payload={"sparse_model": model}, points=list(vectors))
            ),
        ]
        with self._lock:
            if not self._has_sparse():
                return  # nowhere to put them; "sparse_model" stays as it is, so a later re-index adds them
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

    def optimize(self) -> bool:
        """A Qdrant server runs its optimizers by itself; nothing to do."""
        return False

    def drop(self) -> None:
        """Delete the collection on the server, then close the client."""
        with self._lock:
            if self._client.collection_exists(self.collection):
                self._client.delete_collection(self.collection)
        self.close()

    def close(self) -> None:
        """Close the client's connections."""
        with self._lock:
            self._client.close()

    def _add_sparse_vector(self) -> None:
        # A collection from before hybrid search. Qdrant servers that have the "create vector name" API add a
        # named vector to a live collection (so does local mode), so no re-index is needed: its points just
        # have no sparse vector (and no "sparse_model") until their document is ingested again, which gives
        # reused chunks theirs (ingestion/pipeline.py). An older server refuses: dense search keeps working
        # and sparse/hybrid search raises ConfigurationError saying why.
        try:
            self._client.create_vector_name(
                self.collection,
                SPARSE_VECTOR,
                models.SparseVectorNameConfig(sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)),
                wait=True,
            )
        except Exception as exc:  # the server's refusal comes as an HTTP or gRPC error, depending on transport
            self._sparse_problem = f"the server could not add it: {exc}"
            log.warning(
                "Qdrant collection %r has no sparse vector and %s; sparse and hybrid search are unavailable",
                self.collection,
                self._sparse_problem,
            )
            return
        self._sparse = True

    def _has_sparse(self) -> bool:
        # Looked up once the collection exists (the process that created it may be another one).
        if self._sparse is None and self._collection_exists():
            params = self._client.get_collection(self.collection).config.params
            self._sparse = SPARSE_VECTOR in (params.sparse_vectors or {})
        return bool(self._sparse)

    def _collection_exists(self) -> bool:
        # Another process (the worker) may create the collection; ask until it exists, then trust it.
        if not self._exists:
            self._exists = self._client.collection_exists(self.collection)
        return self._exists


def _document_filter(document_id: str) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))])


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=[float(x) for x in vector.values])


def _vectors(dense: Sequence[float], sparse: SparseVector | None, sparse_stored: bool) -> Any:
    values = [float(x) for x in dense]
    if sparse is None or not sparse_stored:
        return values
    return {"": values, SPARSE_VECTOR: _sparse(sparse)}


def _filter(conditions: Sequence[Condition]) -> models.Filter | None:
    if not conditions:
        return None
    return models.Filter(must=[_condition(c) for c in conditions])


def _condition(condition: Condition) -> models.FieldCondition | models.Filter:
    if isinstance(condition, MatchAny):
        match = models.FieldCondition(key=condition.key, match=models.MatchAny(any=list(condition.values)))
        if not condition.or_missing:
            return match
        return models.Filter(should=[match, models.IsEmptyCondition(is_empty=models.PayloadField(key=condition.key))])
    return models.FieldCondition(key=condition.key, range=models.Range(gte=condition.gte, lte=condition.lte))


def _query_arguments(planned: Plan, query: SearchQuery) -> dict[str, Any]:
    """query_points() arguments: a nearest search on one vector, or both fused by RRF inside Qdrant."""
    where = _filter(planned.conditions)
    corpus = _filter(planned.idf_corpus)
    idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=corpus)) if corpus is not None else None
    dense = [float(x) for x in query.dense] if query.dense is not None else None
    sparse = _sparse(query.sparse) if query.sparse is not None else None
    common: dict[str, Any] = {
        "query_filter": where,
        "limit": planned.limit,
        "with_payload": True,
        "with_vectors": query.with_vectors,
    }
    if planned.mode == "dense":
        return {**common, "query": dense}
    if planned.mode == "sparse":
        return {**common, "query": sparse, "using": SPARSE_VECTOR, "search_params": idf}
    # Every branch carries the full filter (ACL included), and so does the fusion stage above them.
    return {
        **common,
        "prefetch": [
            models.Prefetch(query=dense, filter=where, limit=planned.candidates),
            models.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=where, params=idf, limit=planned.candidates),
        ],
        "query": models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=list(RRF_WEIGHTS))),
    }
