"""Parse -> chunk -> embed -> upsert for one document, idempotent so a retry or redelivery is harmless."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ingestion.chunker import Chunk as TextChunk
from ingestion.chunker import chunk_document
from ingestion.parsers import parse_document
from services.core.db.models import Chunk, Document, IngestJob, utcnow
from services.core.db.session import session_scope
from services.core.errors import StewardError
from services.core.runtime import Runtime
from services.core.vectorstore import ChunkPoint

log = logging.getLogger(__name__)

# Points get ids derived from (document, index): re-ingesting overwrites instead of duplicating.
POINT_NAMESPACE = uuid.UUID("6f1c1d9e-8d4b-4a44-9a64-3f8f5a2b7c10")


def point_id(document_id: str, chunk_index: int) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{chunk_index}"))


class DocumentGone(Exception):
    """The document was deleted while it was being ingested."""


def ingest_document(runtime: Runtime, document_id: str) -> str:
    """Ingest one document and return its final status; input problems fail the document, others raise."""
    with session_scope(runtime.sessions) as session:
        document = session.get(Document, document_id)
        if document is None:
            log.info("document %s was deleted before ingestion; nothing to do", document_id)
            return "deleted"
        if document.status == "ready":
            return "ready"  # a redelivered message for finished work
        document.status, document.progress, document.error = "processing", 1, None
        _job(session, document_id).attempts += 1
        storage_path, fmt, filename = document.storage_path, document.format, document.filename
        title_override, groups = document.title, list(document.groups)

    try:
        parsed = parse_document(runtime.blobs.read(storage_path), fmt, filename)
        chunks = chunk_document(parsed, runtime.settings.chunk_size_chars, runtime.settings.chunk_overlap_chars)
    except StewardError as exc:
        mark_failed(runtime, document_id, exc.message)
        return "failed"
    title = title_override or parsed.title
    # Start from a clean slate: an earlier attempt may have stored some vectors before it died.
    runtime.vector_store.delete_document(document_id)
    try:
        _embed_and_upsert(runtime, document_id, title, groups, chunks)
        _finish(runtime, document_id, title, chunks)
    except DocumentGone:
        runtime.vector_store.delete_document(document_id)
        return "deleted"
    return "ready"


def _embed_and_upsert(
    runtime: Runtime, document_id: str, title: str, groups: list[str], chunks: Sequence[TextChunk]
) -> None:
    batch_size = runtime.settings.embedding_batch_size
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        vectors = runtime.embedder.embed([_embedding_text(title, chunk) for chunk in batch])
        runtime.vector_store.upsert(
            [
                ChunkPoint(
                    id=point_id(document_id, chunk.index),
                    vector=vector,
                    document_id=document_id,
                    chunk_index=chunk.index,
                    groups=groups,
                    title=title,
                    heading=chunk.heading,
                    text=chunk.text,
                    text_hash=chunk.text_hash,
                )
                for chunk, vector in zip(batch, vectors, strict=True)
            ]
        )
        done = start + len(batch)
        _set_progress(runtime, document_id, 5 + int(90 * done / len(chunks)))


def _embedding_text(title: str, chunk: TextChunk) -> str:
    """Embed the chunk with its title and heading so a passage stays findable out of context."""
    context = " / ".join(part for part in (title, chunk.heading) if part)
    return f"{context}\n{chunk.text}" if context else chunk.text


def _set_progress(runtime: Runtime, document_id: str, percent: int) -> None:
    with session_scope(runtime.sessions) as session:
        document = session.get(Document, document_id)
        if document is None:
            raise DocumentGone(document_id)
        document.progress = min(percent, 99)


def _finish(runtime: Runtime, document_id: str, title: str, chunks: Sequence[TextChunk]) -> None:
    """Chunk rows and the ready status land in one transaction: readers never see half a document."""
    with session_scope(runtime.sessions) as session:
        document = session.get(Document, document_id)
        if document is None:
            raise DocumentGone(document_id)
        session.execute(delete(Chunk).where(Chunk.document_id == document_id))
        session.add_all(
            Chunk(
                id=point_id(document_id, chunk.index),
                document_id=document_id,
                chunk_index=chunk.index,
                heading=chunk.heading[:500],
                text=chunk.text,
                text_hash=chunk.text_hash,
            )
            for chunk in chunks
        )
        document.title = title[:500]
        document.status, document.progress, document.chunk_count = "ready", 100, len(chunks)
        job = _job(session, document_id)
        job.status, job.error, job.finished_at = "succeeded", None, utcnow()


def mark_failed(runtime: Runtime, document_id: str, reason: str) -> None:
    """Record why a document failed and remove any vectors an attempt left behind."""
    runtime.vector_store.delete_document(document_id)
    with session_scope(runtime.sessions) as session:
        document = session.get(Document, document_id)
        if document is None:
            return
        session.execute(delete(Chunk).where(Chunk.document_id == document_id))
        document.status, document.error, document.chunk_count = "failed", reason, 0
        job = _job(session, document_id)
        job.status, job.error, job.finished_at = "failed", reason, utcnow()
    log.warning("document %s failed: %s", document_id, reason)


def _job(session: Session, document_id: str) -> IngestJob:
    """The document's latest job row (created by the upload; made here for documents that predate it)."""
    job = session.scalar(
        select(IngestJob).where(IngestJob.document_id == document_id).order_by(IngestJob.created_at.desc()).limit(1)
    )
    if job is None:
        job = IngestJob(document_id=document_id)
        session.add(job)
        session.flush()
    return job
