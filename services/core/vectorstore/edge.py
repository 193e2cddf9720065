"""Vector store on Qdrant Edge: the Qdrant engine in-process, one shard directory per collection."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from services.core.errors import ConfigurationError
from services.core.vectorstore.disk import ShardDisk
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

CONFIG_FILE = "edge_config.json"
_INDEX_TYPES = {"keyword": qe.PayloadSchemaType.Keyword, "float": qe.PayloadSchemaType.Float}


class QdrantEdgeStore:
    """Owns the shard at `path/collection`; one instance per process (the shard's WAL lock is exclusive)."""

    def __init__(self, path: Path, collection: str, *, disk_reserve_bytes: int = 0) -> None:
        """`disk_reserve_bytes` > 0 turns on the full-disk guard (see disk.py): a write is refused unless that much
        stays free, and sparse files are backed when the shard opens and at most once a second before a write."""
        self.shard_dir = Path(path) / collection
        self._disk = ShardDisk(self.shard_dir, reserve_bytes=disk_reserve_bytes) if disk_reserve_bytes > 0 else None
        # One lock serialises every call: the engine tolerates concurrent calls, but close() would pull
        # the shard from under an in-flight query, and threads gain no throughput on it anyway.
        self._lock = threading.Lock()
        self._maintenance = threading.Lock()  # optimize() vs close()
        self._closed = False
        self._shard: qe.EdgeShard | None = None
        self._dimension: int | None = None
        self._sparse = False  # whether the shard has the sparse vector (shards from before hybrid search do not)
        if (self.shard_dir / CONFIG_FILE).exists():
            self._shard = self._open(lambda: qe.EdgeShard.load(str(self.shard_dir)))
            self._dimension, self._sparse = self._stored_layout()

    def ensure_collection(self, dimension: int) -> None:
        """Create the shard if missing (cosine dense vector, BM25 sparse vector with IDF); idempotent."""
        with self._lock:
            self._check_open()
            self._before_write()
            if self._shard is None and (self.shard_dir / CONFIG_FILE).exists():
                # Created by another handle since we were constructed.
                self._shard = self._open(lambda: qe.EdgeShard.load(str(self.shard_dir)))
                self._dimension, self._sparse = self._stored_layout()
            if self._shard is None:
                config = qe.EdgeConfig(
                    vectors=qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine),
                    sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
                )
                self._shard = self._open(lambda: qe.EdgeShard.create(str(self.shard_dir), config))
                self._dimension, self._sparse = dimension, True
            elif self._dimension is not None and self._dimension != dimension:
                raise ConfigurationError(
                    f"the vector shard at {self.shard_dir} holds vectors of dimension {self._dimension}, "
                    f"but the embedding model gives {dimension}; re-index into a new collection"
                )
            if not self._sparse:
                # A shard from before hybrid search. The engine adds a named vector to a live shard, so no
                # re-index is needed: its points just have no sparse vector (and no "sparse_model") until their
                # document is ingested again, which gives reused chunks theirs (ingestion/pipeline.py).
                self._shard.update(qe.UpdateOperation.create_sparse_vector(SPARSE_VECTOR, modifier=qe.Modifier.Idf))
                self._sparse = True
            existing = self._shard.info().payload_schema
            for name, kind in INDEXED_FIELDS.items():
                if name not in existing:
                    self._shard.update(qe.UpdateOperation.create_field_index(name, _INDEX_TYPES[kind]))
            # Points stored before staging existed were all searchable: they are live.
            self._shard.update(
                qe.UpdateOperation.set_payload_by_filter(
                    qe.Filter(must=[qe.IsEmptyCondition("state")]), {"state": SEARCHABLE_STATE}
                )
            )
            if self._disk is not None:
                self._disk.back_files()  # a new shard is 85 sparse files

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id (with their sparse vector, when they have one)."""
        if not points:
            return
        with self._lock:
            shard = self._require_shard()
            self._before_write()
            batch = [qe.Point(p.id, self._vectors(p.vector, p.sparse), chunk_payload(p, self._sparse)) for p in points]
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def search(self, query: SearchQuery) -> list[ScoredChunk]:
        """The best chunks in the query's mode, best first, with the ACL and filters inside every branch."""
        planned = plan(query)
        if planned is None:
            return []
        request = _request(planned, query)
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            if planned.needs_sparse and not self._sparse:
                raise ConfigurationError(
                    f"the vector shard at {self.shard_dir} has no sparse vector yet, so {query.mode} search is "
                    "unavailable; ensure_collection() adds it (restart the server)"
                )
            hits = self._shard.query(request)
        return [scored_chunk(h.id, h.score, h.payload, h.vector) for h in hits]

    def delete_document(self, document_id: str) -> None:
        """Remove every point of a document."""
        with self._lock:
            self._check_open()
            if self._shard is not None:
                self._before_write()
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
            self._before_write()
            for point_id, payload in updates.items():
                shard.update(qe.UpdateOperation.set_payload([point_id], dict(payload)))

    def set_document_payload(self, document_id: str, payload: Mapping[str, Any]) -> None:
        """Merge payload fields into every point of a document, by filter, in one operation."""
        with self._lock:
            self._check_open()
            if self._shard is not None:
                self._before_write()
                self._shard.update(
                    qe.UpdateOperation.set_payload_by_filter(_document_filter(document_id), dict(payload))
                )

    def scan(self, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every point (id, payload without the text), a page at a time; the lock is held per page only."""
        offset: Any = None
        while True:
            with self._lock:
                self._check_open()
                if self._shard is None:
                    return
                request = qe.ScrollRequest(
                    offset=offset,
                    limit=batch,
                    with_payload=qe.PayloadSelector.Include(list(SUMMARY_FIELDS)),
                    with_vector=False,
                )
                records, offset = self._shard.scroll(request)
            yield from ((str(r.id), dict(r.payload or {})) for r in records)
            if offset is None:
                return

    def export_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        """Every point with its vectors and whole payload, a page at a time; the lock is held per page only."""
        offset: Any = None
        while True:
            with self._lock:
                self._check_open()
                if self._shard is None:
                    return
                records, offset = self._shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=batch, with_payload=True, with_vector=True)
                )
            yield from (stored_point(r.id, r.vector, r.payload) for r in records)
            if offset is None:
                return

    def points(self, ids: Sequence[str]) -> list[StoredPoint]:
        """The points with these ids, vectors and payload; unknown ids are left out."""
        if not ids:
            return []
        with self._lock:
            self._check_open()
            if self._shard is None:
                return []
            records = self._shard.retrieve(list(ids), True, True)
        return [stored_point(r.id, r.vector, r.payload) for r in records]

    def import_points(self, points: Sequence[StoredPoint]) -> None:
        """Insert or overwrite points exactly as exported, by id."""
        if not points:
            return
        with self._lock:
            shard = self._require_shard()
            self._before_write()
            batch = [qe.Point(p.id, self._vectors(p.dense, p.sparse), dict(p.payload)) for p in points]
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def set_sparse_vectors(self, vectors: Mapping[str, SparseVector], model: str) -> None:
        """Replace the sparse vector of existing points, by id; dense vectors are untouched."""
        if not vectors:
            return
        with self._lock:
            shard = self._require_shard()
            if not self._sparse:
                return  # nowhere to put them; "sparse_model" stays as it is, so a later re-index adds them
            self._before_write()
            shard.update(
                qe.UpdateOperation.update_vectors(
                    [qe.PointVectors(pid, {SPARSE_VECTOR: _sparse(v)}) for pid, v in vectors.items()]
                )
            )
            shard.update(qe.UpdateOperation.set_payload(list(vectors), {"sparse_model": model}))

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        if not ids:
            return
        with self._lock:
            shard = self._require_shard()
            self._before_write()
            shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""
        request = qe.CountRequest(exact=True, filter=_document_filter(document_id) if document_id is not None else None)
        with self._lock:
            self._check_open()
            return 0 if self._shard is None else self._shard.count(request)

    def optimize(self) -> bool:
        """Merge segments and build the HNSW and payload indexes (Qdrant Edge runs no optimizer by itself).

        Runs outside the call lock, which the engine allows, so searches go on meanwhile; the maintenance
        lock keeps close() from pulling the shard away until it is done."""
        with self._maintenance:
            with self._lock:
                self._check_open()
                shard = self._shard
                if shard is not None and self._disk is not None:
                    # A merge may rewrite every segment before it drops the old ones.
                    self._disk.before_write(extra_bytes=self._disk.allocated_bytes())
            return False if shard is None else bool(shard.optimize())

    def drop(self) -> None:
        """Close the shard and remove its directory."""
        self.close()
        shutil.rmtree(self.shard_dir, ignore_errors=True)

    def close(self) -> None:
        """Flush and release the shard's WAL lock; later calls raise."""
        with self._maintenance, self._lock:
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

    def _stored_layout(self) -> tuple[int | None, bool]:
        """The dense dimension and whether the sparse vector exists."""
        # The engine exposes no getter for its vector config; it persists it as JSON beside the segments
        # (and rewrites it when a vector is added).
        try:
            config = json.loads((self.shard_dir / CONFIG_FILE).read_text())
        except (OSError, ValueError):
            return None, False
        try:
            dimension: int | None = int(config["vectors"][""]["size"])
        except (KeyError, TypeError, ValueError):
            dimension = None
        return dimension, SPARSE_VECTOR in (config.get("sparse_vectors") or {})

    def _vectors(self, dense: Sequence[float], sparse: SparseVector | None) -> Any:
        values = [float(x) for x in dense]
        if sparse is None or not self._sparse:
            return values
        return {"": values, SPARSE_VECTOR: _sparse(sparse)}

    def _before_write(self) -> None:
        if self._disk is not None:
            self._disk.before_write()

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


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(list(vector.indices), [float(x) for x in vector.values])


def _filter(conditions: Sequence[Condition]) -> qe.Filter | None:
    if not conditions:
        return None
    return qe.Filter(must=[_condition(c) for c in conditions])


def _condition(condition: Condition) -> qe.FieldCondition | qe.Filter:
    if isinstance(condition, MatchAny):
        match = qe.FieldCondition(condition.key, match=qe.MatchAny(list(condition.values)))
        return qe.Filter(should=[match, qe.IsEmptyCondition(condition.key)]) if condition.or_missing else match
    return qe.FieldCondition(condition.key, range=qe.RangeFloat(gte=condition.gte, lte=condition.lte))


def _request(planned: Plan, query: SearchQuery) -> qe.QueryRequest:
    """One engine query: a nearest search on one vector, or both fused by RRF inside the engine."""
    where = _filter(planned.conditions)
    dense = qe.Query.Nearest([float(x) for x in query.dense]) if query.dense is not None else None
    sparse, idf = None, None
    if query.sparse is not None:
        sparse = qe.Query.Nearest(_sparse(query.sparse), using=SPARSE_VECTOR)
        corpus = _filter(planned.idf_corpus)
        idf = qe.SearchParams(idf=qe.IdfParams(corpus=corpus)) if corpus is not None else None
    scoring: qe.Query | qe.Fusion | None
    prefetches, params = None, None
    if planned.mode == "dense":
        scoring = dense
    elif planned.mode == "sparse":
        scoring, params = sparse, idf
    else:
        # Every branch carries the full filter (ACL included), and so does the fusion stage above them.
        prefetches = [
            qe.Prefetch(limit=planned.candidates, query=dense, filter=where),
            qe.Prefetch(limit=planned.candidates, query=sparse, filter=where, params=idf),
        ]
        # The stub lists Fusion, not its nested Rrf, among query types; Rrf is what the engine takes for RRF.
        scoring = qe.Fusion.Rrf(k=RRF_K, weights=list(RRF_WEIGHTS))  # type: ignore[assignment]
    return qe.QueryRequest(
        limit=planned.limit,
        query=scoring,
        prefetches=prefetches,
        filter=where,
        params=params,
        with_payload=True,
        with_vector=query.with_vectors,
    )
