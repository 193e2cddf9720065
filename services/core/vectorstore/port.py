"""The vector-store port: what retrieval and ingestion need from a vector database, nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ChunkPoint:
    """One embedded chunk as stored: its id is deterministic (document id + chunk index)."""

    id: str
    vector: Sequence[float]
    document_id: str
    chunk_index: int
    groups: Sequence[str]
    title: str
    heading: str
    text: str
    text_hash: str


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

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""

    def close(self) -> None:
        """Release files and connections (Qdrant Edge holds an exclusive WAL lock until then)."""
