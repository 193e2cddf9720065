"""Vector store port, its payload mapping, and the setting-driven choice of adapter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.core.registry import Registry
from services.core.vectorstore.payload import (
    INDEXED_FIELDS,
    SPARSE_VECTOR,
    SUMMARY_FIELDS,
    chunk_payload,
    scored_chunk,
)
from services.core.vectorstore.port import (
    SEARCH_MODES,
    ChunkPoint,
    ScoredChunk,
    SearchFilters,
    SearchMode,
    SearchQuery,
    SparseVector,
    StoredPoint,
    VectorStore,
)

if TYPE_CHECKING:
    from services.core.settings import Settings

__all__ = [
    "INDEXED_FIELDS",
    "SEARCH_MODES",
    "SPARSE_VECTOR",
    "SUMMARY_FIELDS",
    "ChunkPoint",
    "ScoredChunk",
    "SearchFilters",
    "SearchMode",
    "SearchQuery",
    "SparseVector",
    "StoredPoint",
    "VectorStore",
    "build_vector_store",
    "chunk_payload",
    "scored_chunk",
    "vector_stores",
]

vector_stores: Registry[VectorStore] = Registry("vector store")


@vector_stores.register("qdrant_edge")
def _edge(settings: Settings, collection: str) -> VectorStore:
    from services.core.vectorstore.edge import QdrantEdgeStore

    return QdrantEdgeStore(settings.vector_dir, collection, disk_reserve_bytes=settings.vector_disk_reserve_mb * 2**20)


@vector_stores.register("qdrant")
def _server(settings: Settings, collection: str) -> VectorStore:
    from services.core.vectorstore.qdrant import QdrantServerStore

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return QdrantServerStore(settings.qdrant_url, collection, api_key)


def build_vector_store(settings: Settings, collection: str | None = None) -> VectorStore:
    """The adapter named by `settings.vector_store`, on `collection` (default: the installation's first one;
    re-indexing builds others beside it, services/core/adaptation)."""
    return vector_stores.create(settings.vector_store, settings, collection or settings.collection)
