"""What ingesting a version will write: a deterministic point per chunk, and the payload and row describing it.

A chunk's point id is derived from the document and the hash of exactly what is embedded, so an unchanged
chunk keeps its vector across versions and a retried run rewrites the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.chunker import Chunk as TextChunk
from ingestion.lease import Claim
from services.core.embedding.context import embedded_text
from services.core.vectorstore.plan import epoch_seconds

POINT_NAMESPACE = uuid.UUID("6f1c1d9e-8d4b-4a44-9a64-3f8f5a2b7c10")


def point_id(document_id: str, content_hash: str, occurrence: int) -> str:
    """The same text under the same heading in the same document always lands on the same point."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{content_hash}:{occurrence}"))


def embedding_text(title: str, chunk: TextChunk) -> str:
    """Embed the chunk with its title and heading path so a passage stays findable out of context."""
    return embedded_text(title, chunk.heading, chunk.text)


@dataclass(frozen=True)
class PlannedChunk:
    chunk: TextChunk
    point_id: str
    content_hash: str
    text: str  # what gets embedded


def plan(document_id: str, title: str, chunks: Sequence[TextChunk]) -> list[PlannedChunk]:
    seen: Counter[str] = Counter()
    planned = []
    for chunk in chunks:
        text = embedding_text(title, chunk)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        planned.append(PlannedChunk(chunk, point_id(document_id, digest, seen[digest]), digest, text))
        seen[digest] += 1
    return planned


def chunk_row(document_id: str, p: PlannedChunk, sentences: tuple[bytes | None, str] = (None, "")) -> dict[str, Any]:
    """The chunk's database row; `sentences` are its sentences' vectors and the encoder that made them."""
    return {
        "id": p.point_id,
        "document_id": document_id,
        "chunk_index": p.chunk.index,
        "heading": p.chunk.heading[:500],
        "text": p.chunk.text,
        "text_hash": p.chunk.text_hash,
        "content_hash": p.content_hash,
        "location": dict(p.chunk.location),
        "sentence_vectors": sentences[0],
        "sentence_encoder": sentences[1],
    }


def chunk_payload(claim: Claim, title: str, p: PlannedChunk) -> dict[str, Any]:
    """What describes a chunk besides its vectors and its access; a reused chunk gets whatever of it changed.

    Access (groups, classification) is not here: the document row's, read under its lock when the version is
    made live, is written to every chunk at once (Ingestor._finish), so no chunk ever carries a stale one."""
    return {
        "chunk_index": p.chunk.index,
        "title": title,
        "heading": p.chunk.heading,
        "location": dict(p.chunk.location),
        "tags": list(claim.tags),
        "source_type": claim.format,
        "created_at": created_at(claim),
    }


def created_at(claim: Claim) -> float | None:
    return epoch_seconds(claim.created_at) if claim.created_at is not None else None


def differs(stored: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    return any(stored.get(key) != value for key, value in payload.items())
