"""Document lifecycle: accept an upload, enqueue its ingestion, show it, delete it everywhere."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingestion.formats import CONTENT_TYPES, HEAD_BYTES, detect_format
from services.api.metrics import DOCUMENTS_UPLOADED
from services.core import audit, outbox
from services.core.access import CLASSIFICATIONS, DEFAULT_CLASSIFICATION, ReadScope
from services.core.auth import PrincipalContext
from services.core.db.models import Document, DocumentVersion, IngestJob
from services.core.errors import Conflict, DocumentNotFound, InvalidInput, PayloadTooLarge
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


def parse_classification(raw: str | None) -> str:
    """The upload's classification; absent means the default (internal)."""
    value = (raw or "").strip().lower() or DEFAULT_CLASSIFICATION
    if value not in CLASSIFICATIONS:
        raise InvalidInput(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    return value


def parse_tags(raw: list[str]) -> list[str]:
    """Tags arrive like groups (repeated or comma-separated) but may be absent."""
    tags = sorted({t.strip() for value in raw for t in value.split(",") if t.strip()})
    if len(tags) > MAX_GROUPS or any(len(t) > 100 for t in tags):
        raise InvalidInput(f"at most {MAX_GROUPS} tags of at most 100 characters each")
    return tags


def upload(
    runtime: Runtime,
    session: Session,
    principal: PrincipalContext,
    filename: str,
    data: bytes,
    groups: list[str],
    title: str | None,
    source: str | None = None,
    tags: list[str] | None = None,
    classification: str | None = None,
) -> tuple[Document, bool]:
    """Store the original and queue its ingestion; returns (document, queued).

    `source` (default: the file name) names the document: uploading to an existing source makes a new
    version of it, re-embedding only the chunks that changed; re-uploading identical content changes nothing.
    """
    principal.require_role("admin")
    if len(data) > runtime.settings.max_upload_bytes:
        raise PayloadTooLarge(f"file is larger than the {runtime.settings.max_upload_bytes} byte limit")
    if not data:
        raise InvalidInput("file is empty")
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "upload"
    fmt = detect_format(filename, data[:HEAD_BYTES])
    groups = parse_groups(groups)
    tags = parse_tags(tags or [])
    level = parse_classification(classification)
    source = (source or "").strip() or filename
    if len(source) > 1000:
        raise InvalidInput("source is longer than 1000 characters")
    sha256 = hashlib.sha256(data).hexdigest()
    document = session.scalar(select(Document).where(Document.source == source))
    if document is None:
        document = Document(
            source=source,
            title="",
            filename=filename,
            format=fmt,
            content_type=CONTENT_TYPES[fmt],
            size_bytes=len(data),
            sha256=sha256,
            groups=groups,
            tags=tags,
            classification=level,
            version=1,
            storage_path="",
            created_by=principal.id,
        )
        session.add(document)
        try:
            session.flush()
        except IntegrityError:  # the same new source uploaded twice at once: the other one won
            session.rollback()
            raise Conflict(f"another upload of {source!r} is in progress; retry in a moment") from None
    elif (
        document.sha256 == sha256
        and sorted(document.groups) == groups
        and sorted(document.tags or []) == tags
        and document.classification == level
        and document.status != "failed"
    ):
        return document, False  # re-uploading an identical file changes nothing
    else:
        document.version += 1
        document.filename, document.format, document.content_type = filename, fmt, CONTENT_TYPES[fmt]
        document.size_bytes, document.sha256, document.groups = len(data), sha256, groups
        # A new classification (or groups, tags) on identical content makes a version whose ingestion reuses
        # every vector and only rewrites the chunks' payloads (ingestion/pipeline.py).
        document.tags, document.classification = tags, level
    document.title = (title or "").strip()[:500]
    document.status, document.stage, document.progress, document.error = "queued", "queued", 0, None
    document.updated_by = principal.id
    document.storage_path = runtime.blobs.save(document.id, fmt, data, document.version)
    session.add(
        DocumentVersion(
            document_id=document.id,
            version=document.version,
            filename=filename,
            size_bytes=len(data),
            sha256=sha256,
            uploaded_by=principal.id,
        )
    )
    job = IngestJob(document_id=document.id, version=document.version)
    session.add(job)
    audit.admin_action(
        session,
        principal.id,
        "document.upload",
        f"uploaded {filename} as version {document.version} of {source!r} for groups {groups} as {level}",
        details={"document_id": document.id, "sha256": sha256, "version": document.version},
    )
    # Commit before publishing so the worker always finds the row it is told about; the job row is the
    # outbox, so if the broker is down now the sweeper publishes it later and nothing is lost.
    session.commit()
    outbox.publish(runtime, job.id, document.id)
    DOCUMENTS_UPLOADED.inc()
    return document, True


def retry(runtime: Runtime, session: Session, principal: PrincipalContext, document_id: str) -> Document:
    """Queue the current version of a document again after its ingestion failed (admin)."""
    principal.require_role("admin")
    document = get(session, principal, document_id)
    last = session.scalar(
        select(IngestJob).where(IngestJob.document_id == document_id).order_by(IngestJob.created_at.desc()).limit(1)
    )
    if last is not None and last.status not in ("failed", "superseded"):
        raise Conflict(f"document {document_id} is not failed (its latest job is {last.status}); nothing to retry")
    if document.indexed_version != document.version:
        document.status, document.stage, document.progress = "queued", "queued", 0
    job = IngestJob(document_id=document.id, version=document.version)
    session.add(job)
    audit.admin_action(
        session,
        principal.id,
        "document.retry",
        f"retried ingestion of version {document.version}",
        details={"document_id": document.id, "previous_error": last.error if last else None},
    )
    session.commit()
    outbox.publish(runtime, job.id, document.id)
    return document


def list_jobs(
    session: Session, principal: PrincipalContext, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[IngestJob, Document]], int]:
    """Ingestion jobs, newest first, optionally of one status (admin): the failed-jobs view."""
    principal.require_role("admin")
    query = select(IngestJob, Document).join(Document, Document.id == IngestJob.document_id)
    count = select(func.count()).select_from(IngestJob)
    if status is not None:
        query, count = query.where(IngestJob.status == status), count.where(IngestJob.status == status)
    rows = session.execute(query.order_by(IngestJob.created_at.desc()).limit(limit).offset(offset)).all()
    return [(job, document) for job, document in rows], session.scalar(count) or 0


def versions(session: Session, principal: PrincipalContext, document_id: str) -> list[DocumentVersion]:
    get(session, principal, document_id)
    return list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document_id)
            .order_by(DocumentVersion.version.desc())
        )
    )


def _readable(principal: PrincipalContext, document: Document) -> bool:
    """The same rule retrieval puts into the vector query (services/core/access.py)."""
    return principal.read_scope.allows(document.groups, document.classification)


def get(session: Session, principal: PrincipalContext, document_id: str) -> Document:
    """The document, or DocumentNotFound — also when it exists but the principal may not read it."""
    document = session.get(Document, document_id)
    if document is None or not _readable(principal, document):
        raise DocumentNotFound(f"no document {document_id}")
    return document


def list_documents(
    session: Session, principal: PrincipalContext, limit: int, offset: int, status: str | None = None
) -> tuple[list[Document], int]:
    query = select(Document)
    if status is not None:
        query = query.where(Document.status == status)
    if principal.read_scope != ReadScope.everything():
        # JSON arrays cannot be filtered portably across SQLite and PostgreSQL; list then filter by ACL.
        readable = [d for d in session.scalars(query.order_by(Document.created_at.desc())) if _readable(principal, d)]
        return readable[offset : offset + limit], len(readable)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Document.created_at.desc()).limit(limit).offset(offset))
    return list(page), total


def delete(runtime: Runtime, session: Session, principal: PrincipalContext, document_id: str) -> None:
    """Remove the document's vectors, chunks, row and original."""
    principal.require_role("admin")
    document = get(session, principal, document_id)
    runtime.vector_store.delete_document(document_id)
    session.delete(document)
    audit.admin_action(
        session,
        principal.id,
        "document.delete",
        f"deleted {document.filename}",
        details={"document_id": document_id},
    )
    session.commit()
    runtime.blobs.delete_document(document_id)
