"""The vector-store port: what retrieval and ingestion need from a vector database, nothing more."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChunkPoint:
    """One embedded chunk as stored: its id is deterministic (document id + content hash + occurrence)."""

    id: str
    vector: Sequence[float]
    document_id: str
    chunk_index: int
    groups: Sequence[str]
    title: str
    heading: str
    text: str
    text_hash: str
    location: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredChunk:
    """A search hit: the stored chunk payload and its similarity score (higher is closer)."""

    id: str
    score: float
    document_id: str
    chunk_index: int
    title: str
    heading: str
    text: str
    groups: tuple[str, ...] = field(default_factory=tuple)
    location: Mapping[str, Any] = field(default_factory=dict)


class VectorStore(Protocol):
    """Stores chunk vectors with an ACL payload; every adapter must pass tests/contract/test_vectorstore.py."""

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection if missing (cosine distance); idempotent."""

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id, so re-running an ingestion never duplicates."""

    def search(self, vector: Sequence[float], limit: int, allowed_groups: Sequence[str] | None) -> list[ScoredChunk]:
        """Nearest chunks, best first. `allowed_groups=None` means unrestricted (admin);
        otherwise only chunks sharing at least one group are considered — inside the query, never after it."""

    def delete_document(self, document_id: str) -> None:
        """Remove every point of a document; a no-op when there is none."""

    def document_points(self, document_id: str) -> dict[str, dict[str, Any]]:
        """Every stored point of a document: id -> payload without the text (for incremental re-indexing)."""

    def set_payloads(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge the given payload fields into existing points, by id; vectors are untouched."""

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id; unknown ids are ignored."""

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""

    def close(self) -> None:
        """Release files and connections (Qdrant Edge holds an exclusive WAL lock until then)."""
