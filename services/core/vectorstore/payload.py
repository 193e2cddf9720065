"""What a chunk stores beside its vectors, and how a search hit is rebuilt from it (shared by every adapter)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from services.core.vectorstore.port import ChunkPoint, ScoredChunk, SparseVector, StoredPoint

# The named sparse vector (BM25 term weights, IDF applied by the engine) beside the unnamed dense one.
SPARSE_VECTOR = "bm25"
# Payload indexes every adapter creates: ACL filtering, per-document delete/count, and the search filters.
INDEXED_FIELDS: dict[str, Literal["keyword", "float"]] = {
    "document_id": "keyword",
    "groups": "keyword",
    "classification": "keyword",
    "tags": "keyword",
    "source_type": "keyword",
    "created_at": "float",
    "state": "keyword",
}
# Payload fields document_points() returns: everything but the (large) text.
SUMMARY_FIELDS = (
    "document_id",
    "chunk_index",
    "groups",
    "classification",
    "title",
    "heading",
    "text_hash",
    "location",
    "tags",
    "source_type",
    "created_at",
    "sparse_model",
    "state",
    "injection_score",
    "injection_window",
)
# Every search finds only live points: staged ones belong to a version still being ingested.
SEARCHABLE_STATE = "live"


def chunk_payload(point: ChunkPoint, sparse_stored: bool = True) -> dict[str, Any]:
    """The payload stored beside a chunk's vectors. `sparse_stored=False` when the collection cannot hold the
    sparse vector: then no encoder is recorded, so re-indexing after an upgrade knows it is missing."""
    payload: dict[str, Any] = {
        "document_id": point.document_id,
        "chunk_index": point.chunk_index,
        "groups": list(point.groups),
        "classification": point.classification,
        "title": point.title,
        "heading": point.heading,
        "text": point.text,
        "text_hash": point.text_hash,
        "location": dict(point.location),
        "tags": list(point.tags),
        "source_type": point.source_type,
        "created_at": point.created_at,
        "sparse_model": point.sparse_model if point.sparse is not None and sparse_stored else "",
        "state": point.state,
    }
    if point.injection_score is not None:
        payload["injection_score"] = point.injection_score
        payload["injection_window"] = point.injection_window
    return payload


def scored_chunk(point_id: object, score: float, payload: Mapping[str, Any] | None, vector: Any = None) -> ScoredChunk:
    """A search hit rebuilt from a stored payload and, when fetched, its vectors (the dense one is kept)."""
    p = payload or {}
    # Engines return the unnamed dense vector as a plain list, or under "" beside named (sparse) ones.
    dense = vector.get("") if isinstance(vector, Mapping) else vector
    return ScoredChunk(
        id=str(point_id),
        score=float(score),
        document_id=str(p.get("document_id", "")),
        chunk_index=int(p.get("chunk_index", 0)),
        title=str(p.get("title", "")),
        heading=str(p.get("heading", "")),
        text=str(p.get("text", "")),
        groups=tuple(p.get("groups") or ()),
        location=dict(p.get("location") or {}),
        vector=[float(x) for x in dense] if dense is not None else None,
        injection_score=float(p["injection_score"]) if p.get("injection_score") is not None else None,
        injection_window=str(p.get("injection_window") or ""),
    )


def stored_point(point_id: object, vector: Any, payload: Mapping[str, Any] | None) -> StoredPoint:
    """An exported point. Engines return the dense vector alone, or named vectors with the dense one under ""
    and the sparse one (any object with `indices` and `values`) under SPARSE_VECTOR."""
    named = vector if isinstance(vector, Mapping) else {"": vector}
    sparse = named.get(SPARSE_VECTOR)
    return StoredPoint(
        id=str(point_id),
        dense=[float(x) for x in named.get("") or ()],
        sparse=SparseVector(tuple(int(i) for i in sparse.indices), tuple(float(v) for v in sparse.values))
        if sparse is not None
        else None,
        payload=dict(payload or {}),
    )
