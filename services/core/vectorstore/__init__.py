"""Vector store port, its payload mapping, and the setting-driven choice of adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.core.registry import Registry
from services.core.vectorstore.port import ChunkPoint, ScoredChunk, VectorStore

if TYPE_CHECKING:
    from services.core.settings import Settings

__all__ = [
    "INDEXED_FIELDS",
    "SUMMARY_FIELDS",
    "ChunkPoint",
    "ScoredChunk",
    "VectorStore",
    "build_vector_store",
    "chunk_payload",
    "scored_chunk",
    "vector_stores",
]

# Keyword payload indexes every adapter creates: ACL filtering and per-document delete/count.
INDEXED_FIELDS = ("document_id", "groups")
# Payload fields document_points() returns: everything but the (large) text.
SUMMARY_FIELDS = ("document_id", "chunk_index", "groups", "title", "heading", "text_hash", "location")

vector_stores: Registry[VectorStore] = Registry("vector store")


def chunk_payload(point: ChunkPoint) -> dict[str, Any]:
    """The payload stored beside a chunk's vector."""
    return {
        "document_id": point.document_id,
        "chunk_index": point.chunk_index,
        "groups": list(point.groups),
        "title": point.title,
        "heading": point.heading,
        "text": point.text,
        "text_hash": point.text_hash,
        "location": dict(point.location),
    }


def scored_chunk(point_id: object, score: float, payload: Mapping[str, Any] | None) -> ScoredChunk:
    """A search hit rebuilt from a stored payload."""
    p = payload or {}
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
    )


@vector_stores.register("qdrant_edge")
def _edge(settings: Settings) -> VectorStore:
    from services.core.vectorstore.edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.vector_dir, settings.collection)


@vector_stores.register("qdrant")
def _server(settings: Settings) -> VectorStore:
    from services.core.vectorstore.qdrant import QdrantServerStore

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return QdrantServerStore(settings.qdrant_url, settings.collection, api_key)


def build_vector_store(settings: Settings) -> VectorStore:
    """The adapter named by `settings.vector_store`."""
    return vector_stores.create(settings.vector_store, settings)
