"""Document lifecycle: accept an upload, enqueue its ingestion, show it, delete it everywhere."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingestion.formats import CONTENT_TYPES, detect_format
from services.api.metrics import DOCUMENTS_UPLOADED
from services.core import audit
from services.core.auth import PrincipalContext
from services.core.db.models import Document, IngestJob
from services.core.errors import DocumentNotFound, InvalidInput, PayloadTooLarge, QueueUnavailable
from services.core.queue import INGEST_DOCUMENT
from services.core.runtime import Runtime

MAX_GROUPS = 50


def parse_groups(raw: list[str]) -> list[str]:
    """Groups arrive as repeated form fields or comma-separated; at least one is required."""
    groups = sorted({g.strip() for value in raw for g in value.split(",") if g.strip()})
    if not groups:
        raise InvalidInput("groups is required: name at least one group allowed to read the document")
    if len(groups) > MAX_GROUPS or any(len(g) > 100 for g in groups):
        raise InvalidInput(f"at most {MAX_GROUPS} groups of at most 100 characters each")
    return groups


def upload(
    runtime: Runtime,
    session: Session,
    principal: PrincipalContext,
    filename: str,
    data: bytes,
    groups: list[str],
    title: str | None,
) -> tuple[Document, bool]:
    """Store the original and queue it; returns (document, created). Identical content is not re-ingested."""
    principal.require_role("admin")
    if len(data) > runtime.settings.max_upload_bytes:
        raise PayloadTooLarge(f"file is larger than the {runtime.settings.max_upload_bytes} byte limit")
    if not data:
        raise InvalidInput("file is empty")
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "upload"
    fmt = detect_format(filename, data[:4096])
    groups = parse_groups(groups)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(Document).where(Document.sha256 == sha256, Document.status != "failed").limit(1))
    if existing is not None and sorted(existing.groups) == groups:
        return existing, False
    document = Document(
        title=(title or "").strip()[:500],
        filename=filename,
        format=fmt,
        content_type=CONTENT_TYPES[fmt],
        size_bytes=len(data),
        sha256=sha256,
        groups=groups,
        status="queued",
        storage_path="",
        created_by=principal.id,
    )
    session.add(document)
    session.flush()
    document.storage_path = runtime.blobs.save(document.id, fmt, data)
    session.add(IngestJob(document_id=document.id))
    audit.record(
        session,
        action="document.upload",
        decision="info",
        principal_id=principal.id,
        reason=f"uploaded {filename} for groups {groups}",
        details={"document_id": document.id, "sha256": sha256},
    )
    # Commit before enqueueing so the worker always finds the row it is told about.
    session.commit()
    try:
        runtime.celery.send_task(INGEST_DOCUMENT, args=[document.id])
    except Exception as exc:  # kombu raises many transport-specific errors; all mean the same here
        # Undo the upload rather than leave a document that no worker will ever pick up.
        session.delete(document)
        session.commit()
        runtime.blobs.delete_document(document.id)
        raise QueueUnavailable(f"the ingestion queue is unavailable ({exc}); nothing was stored, retry later") from exc
    DOCUMENTS_UPLOADED.inc()
    return document, True


def _readable(principal: PrincipalContext, document: Document) -> bool:
    groups = principal.readable_groups
    return groups is None or bool(set(groups) & set(document.groups))


def get(session: Session, principal: PrincipalContext, document_id: str) -> Document:
    """The document, or DocumentNotFound — also when it exists but the principal may not read it."""
    document = session.get(Document, document_id)
    if document is None or not _readable(principal, document):
        raise DocumentNotFound(f"no document {document_id}")
    return document


def list_documents(
    session: Session, principal: PrincipalContext, limit: int, offset: int
) -> tuple[list[Document], int]:
    query = select(Document)
    groups = principal.readable_groups
    if groups is not None:
        # JSON arrays cannot be filtered portably across SQLite and PostgreSQL; list then filter by ACL.
        readable = [d for d in session.scalars(query.order_by(Document.created_at.desc())) if _readable(principal, d)]
        return readable[offset : offset + limit], len(readable)
    total = session.scalar(select(func.count()).select_from(Document)) or 0
    page = session.scalars(query.order_by(Document.created_at.desc()).limit(limit).offset(offset))
    return list(page), total


def delete(runtime: Runtime, session: Session, principal: PrincipalContext, document_id: str) -> None:
    """Remove the document's vectors, chunks, row and original."""
    principal.require_role("admin")
    document = get(session, principal, document_id)
    runtime.vector_store.delete_document(document_id)
    session.delete(document)
    audit.record(
        session,
        action="document.delete",
        decision="info",
        principal_id=principal.id,
        reason=f"deleted {document.filename}",
        details={"document_id": document_id},
    )
    session.commit()
    runtime.blobs.delete_document(document_id)
