"""Parse -> chunk -> embed what changed -> index, for one version of one document.

Incremental and idempotent by construction: a chunk's point id is derived from the document and the hash
of exactly what is embedded, so an unchanged chunk keeps its vector across versions, a retried or
duplicated run rewrites the same ids, and whatever an interrupted run stored is reused by the next one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select

from ingestion import lease
from ingestion.chunker import Chunk as TextChunk
from ingestion.chunker import embedding_prefix
from ingestion.lease import Claim, LeaseLost
from ingestion.parsers import ParseLimits
from ingestion.preparation import PreparationRequest, Preparer
from ingestion.redaction import redact_chunks
from services.core.db.models import Chunk, utcnow
from services.core.db.session import session_scope
from services.core.errors import StewardError
from services.core.runtime import Runtime
from services.core.vectorstore import ChunkPoint, SparseVector
from services.core.vectorstore.plan import epoch_seconds

log = logging.getLogger(__name__)

POINT_NAMESPACE = uuid.UUID("6f1c1d9e-8d4b-4a44-9a64-3f8f5a2b7c10")
# Texts handed to the embedder at a time: small enough for steady progress and lease renewal.
EMBED_SLICE = 64
# Where each stage starts on the progress bar (embedding fills the span up to indexing).
PROGRESS = {"parsing": 2, "chunking": 10, "embedding": 15, "indexing": 92}


_preparers: dict[int, Preparer] = {}
_preparers_lock = threading.Lock()


def preparer(runtime: Runtime) -> Preparer:
    """The runtime's parsing process pool, made on first use (only worker processes need one)."""
    with _preparers_lock:
        if id(runtime) not in _preparers:
            settings = runtime.settings
            _preparers[id(runtime)] = Preparer(settings.ingest_parse_processes, settings.ingest_parse_memory_mb)
        return _preparers[id(runtime)]


def close_preparer(runtime: Runtime) -> None:
    with _preparers_lock:
        found = _preparers.pop(id(runtime), None)
    if found is not None:
        found.close()


def point_id(document_id: str, content_hash: str, occurrence: int) -> str:
    """The same text under the same heading in the same document always lands on the same point."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{content_hash}:{occurrence}"))


def embedding_text(title: str, chunk: TextChunk) -> str:
    """Embed the chunk with its title and heading path so a passage stays findable out of context."""
    context = embedding_prefix(title, chunk.heading)
    return f"{context}\n{chunk.text}" if context else chunk.text


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


@dataclass(frozen=True)
class Outcome:
    status: str  # ready | failed | deleted | up_to_date | busy | superseded | lost
    embedded: int = 0
    reused: int = 0
    removed: int = 0


def ingest_document(runtime: Runtime, document_id: str, owner: str) -> Outcome:
    """Ingest the document's current version. Input problems fail it for good; other errors raise."""
    claimed = lease.claim(runtime, document_id, owner)
    if isinstance(claimed, str):
        return Outcome(claimed)
    try:
        return _ingest(runtime, claimed)
    except LeaseLost:
        log.warning("lost the lease on document %s to another worker; leaving it to them", document_id)
        return Outcome("lost")


def _ingest(runtime: Runtime, claim: Claim) -> Outcome:
    settings = runtime.settings
    limits = ParseLimits(max_pdf_pages=settings.max_pdf_pages, max_spreadsheet_cells=settings.max_spreadsheet_cells)
    try:
        request = PreparationRequest(
            data=runtime.blobs.read(claim.storage_path),
            format=claim.format,
            filename=claim.filename,
            limits=limits,
            embedding_model=settings.embedding_model,
            size_tokens=settings.chunk_size_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
        )
        parsed = preparer(runtime).parse(request)
        lease.renew(runtime, claim, "chunking", PROGRESS["chunking"])
        chunks = redact_chunks(runtime.pii, preparer(runtime).chunk(request, parsed))  # settings.pii_ingestion
    except StewardError as exc:
        mark_failed(runtime, claim, exc.message)
        return Outcome("failed")
    except FileNotFoundError:
        mark_failed(runtime, claim, "the uploaded original is missing from storage; upload the file again")
        return Outcome("failed")
    title = claim.title or parsed.title
    planned = plan(claim.document_id, title, chunks)
    stored = runtime.vector_store.document_points(claim.document_id)
    wanted = {p.point_id for p in planned}
    fresh = [p for p in planned if p.point_id not in stored]
    reused = [p for p in planned if p.point_id in stored]
    stale = [pid for pid in stored if pid not in wanted]

    # Vectors of unchanged chunks stay; only what describes them (position, ACL, title) may need updating.
    updates = {
        p.point_id: payload for p in reused if _differs(stored[p.point_id], payload := _payload(claim, title, p))
    }
    runtime.vector_store.set_payloads(updates)
    _refresh_sparse(runtime, claim, reused, stored)
    _embed(runtime, claim, title, fresh)

    lease.renew(runtime, claim, "indexing", PROGRESS["indexing"], force=True)
    # Vanished chunks go before the commit: a crash in between leaves the document unfinished, and the
    # next attempt (which reuses every stored vector) completes it; never a ready document with extras.
    runtime.vector_store.delete_points(stale)
    outcome = Outcome("ready", embedded=len(fresh), reused=len(reused), removed=len(stale))
    return _finish(runtime, claim, title, planned, outcome)


def _payload(claim: Claim, title: str, p: PlannedChunk) -> dict[str, Any]:
    """What describes a chunk besides its vectors; a reused chunk gets whatever of it changed."""
    return {
        "chunk_index": p.chunk.index,
        "groups": list(claim.groups),
        "classification": claim.classification,  # reclassifying re-embeds nothing: only this payload changes
        "title": title,
        "heading": p.chunk.heading,
        "location": dict(p.chunk.location),
        "tags": list(claim.tags),
        "source_type": claim.format,
        "created_at": _created_at(claim),
    }


def _created_at(claim: Claim) -> float | None:
    return epoch_seconds(claim.created_at) if claim.created_at is not None else None


def _refresh_sparse(
    runtime: Runtime, claim: Claim, reused: Sequence[PlannedChunk], stored: Mapping[str, Mapping[str, Any]]
) -> None:
    """Reused chunks indexed before sparse vectors existed, or by another encoder, get the current one's.

    BM25 needs no model pass (well under a millisecond a chunk), so this is cheap even for a whole document."""
    encoder = runtime.sparse_encoder
    vectors: dict[str, SparseVector] = {
        p.point_id: encoder.encode_document(p.text)
        for p in reused
        if stored[p.point_id].get("sparse_model") != encoder.version
    }
    if vectors:
        runtime.vector_store.set_sparse_vectors(vectors, encoder.version)
        log.info("document %s: sparse vectors refreshed for %d reused chunks", claim.document_id, len(vectors))


def _differs(stored: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    return any(stored.get(key) != value for key, value in payload.items())


def _embed(runtime: Runtime, claim: Claim, title: str, fresh: Sequence[PlannedChunk]) -> None:
    lease.renew(runtime, claim, "embedding", PROGRESS["embedding"])
    span = PROGRESS["indexing"] - PROGRESS["embedding"]
    for start in range(0, len(fresh), EMBED_SLICE):
        batch = fresh[start : start + EMBED_SLICE]
        vectors = runtime.embedding_batcher.embed([p.text for p in batch])
        encoder = runtime.sparse_encoder
        runtime.vector_store.upsert(
            [
                ChunkPoint(
                    id=p.point_id,
                    vector=vector,
                    document_id=claim.document_id,
                    chunk_index=p.chunk.index,
                    groups=claim.groups,
                    title=title,
                    heading=p.chunk.heading,
                    text=p.chunk.text,
                    text_hash=p.chunk.text_hash,
                    location=p.chunk.location,
                    # Keywords of exactly what was embedded: title and heading path included.
                    sparse=encoder.encode_document(p.text),
                    sparse_model=encoder.version,
                    tags=claim.tags,
                    source_type=claim.format,
                    created_at=_created_at(claim),
                    classification=claim.classification,
                )
                for p, vector in zip(batch, vectors, strict=True)
            ]
        )
        done = start + len(batch)
        lease.renew(runtime, claim, "embedding", PROGRESS["embedding"] + span * done // len(fresh))


def _finish(runtime: Runtime, claim: Claim, title: str, planned: Sequence[PlannedChunk], outcome: Outcome) -> Outcome:
    """Chunk rows, statistics and the ready status land in one transaction: never half a document."""
    with session_scope(runtime.sessions) as session:
        document = lease.hold(session, claim)
        job = lease.current_job(session, claim.document_id, claim.version)
        lease.release(session, document)
        job.finished_at = utcnow()
        if document.version != claim.version:
            # A newer upload arrived mid-way; its job (already queued) reconciles from what we stored.
            job.status = "superseded"
            document.status, document.stage, document.progress = "queued", "queued", 0
            return Outcome("superseded", outcome.embedded, outcome.reused, outcome.removed)
        session.execute(delete(Chunk).where(Chunk.document_id == claim.document_id))
        if planned:  # one executemany, not an ORM object per chunk
            session.execute(
                insert(Chunk),
                [
                    {
                        "id": p.point_id,
                        "document_id": claim.document_id,
                        "chunk_index": p.chunk.index,
                        "heading": p.chunk.heading[:500],
                        "text": p.chunk.text,
                        "text_hash": p.chunk.text_hash,
                        "content_hash": p.content_hash,
                        "location": dict(p.chunk.location),
                    }
                    for p in planned
                ],
            )
        document.title = title[:500]
        document.status, document.stage, document.progress = "ready", "done", 100
        document.chunk_count, document.indexed_version, document.error = len(planned), claim.version, None
        job.status, job.error = "succeeded", None
        job.chunks_embedded, job.chunks_reused, job.chunks_removed = outcome.embedded, outcome.reused, outcome.removed
    log.info(
        "document %s v%d ready: %d chunks (%d embedded, %d reused, %d removed)",
        claim.document_id,
        claim.version,
        len(planned),
        outcome.embedded,
        outcome.reused,
        outcome.removed,
    )
    return outcome


def mark_failed(runtime: Runtime, claim: Claim, reason: str) -> None:
    """Record why this version failed. The version indexed before it, if any, stays searchable as it was."""
    with session_scope(runtime.sessions) as session:
        document = lease.hold(session, claim)
        keep = set(session.scalars(select(Chunk.id).where(Chunk.document_id == claim.document_id)))
        # Whatever this attempt stored beyond the indexed version goes; a document is never half-indexed.
        stored = runtime.vector_store.document_points(claim.document_id)
        runtime.vector_store.delete_points([pid for pid in stored if pid not in keep])
        job = lease.current_job(session, claim.document_id, claim.version)
        job.status, job.error, job.finished_at = "failed", reason, utcnow()
        lease.release(session, document)
        if document.indexed_version:
            document.status, document.stage, document.progress = "ready", "done", 100
            document.error = (
                f"version {claim.version} failed: {reason}; version {document.indexed_version} is still indexed"
            )
        else:
            document.status, document.stage, document.error, document.chunk_count = "failed", "failed", reason, 0
    log.warning("document %s v%d failed: %s", claim.document_id, claim.version, reason)


def fail_after_retries(runtime: Runtime, document_id: str, owner: str, reason: str) -> None:
    """A transient error outlived every retry: fail the current version as if its input were bad."""
    claimed = lease.claim(runtime, document_id, owner)
    if isinstance(claimed, Claim):
        mark_failed(runtime, claimed, reason)
