"""Document lifecycle: accept an upload, enqueue its ingestion, show it, delete it everywhere."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.api.documents.form import parse_classification, parse_groups, parse_tags
from services.api.documents.index_access import change_index_access, lock
from services.api.metrics import DOCUMENTS_UPLOADED
from services.core import audit
from services.core.access.index import Access
from services.core.access.principals import Caller
from services.core.access.rules import ReadScope
from services.core.db.models import Document, DocumentVersion, IngestJob
from services.core.errors import Conflict, DocumentNotFound, InvalidInput, PayloadTooLarge
from services.core.formats import CONTENT_TYPES, HEAD_BYTES, detect_format
from services.core.jobs.blobs import BlobStore
from services.core.jobs.outbox import Outbox
from services.core.vectorstore import VectorStore


@dataclass(frozen=True)
class Upload:
    """One uploaded file and its form fields, as the router parsed them."""

    filename: str
    data: bytes
    groups: Sequence[str]
    title: str | None = None
    source: str | None = None
    tags: Sequence[str] = ()
    classification: str | None = None


def create(
    *,
    session: Session,
    blobs: BlobStore,
    outbox: Outbox,
    vector_store: VectorStore,
    max_upload_bytes: int,
    principal: Caller,
    upload: Upload,
) -> tuple[Document, bool]:
    """Store the original and queue its ingestion; returns (document, queued).

    `source` (default: the file name) names the document: uploading to an existing source makes a new
    version of it, re-embedding only the chunks that changed; re-uploading identical content changes nothing.
    """
    principal.require_role("admin")
    data = upload.data
    if len(data) > max_upload_bytes:
        raise PayloadTooLarge(f"file is larger than the {max_upload_bytes} byte limit")
    if not data:
        raise InvalidInput("file is empty")
    filename = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "upload"
    fmt = detect_format(filename, data[:HEAD_BYTES])
    groups = parse_groups(upload.groups)
    tags = parse_tags(upload.tags)
    level = parse_classification(upload.classification)
    source = (upload.source or "").strip() or filename
    if len(source) > 1000:
        raise InvalidInput("source is longer than 1000 characters")
    sha256 = hashlib.sha256(data).hexdigest()
    document = session.scalar(select(Document).where(Document.source == source))
    if document is not None:
        lock(session, document)  # an ingestion finishing or an access change waits for this upload, and it for them
    widen: Callable[[], None] = lambda: None  # noqa: E731
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
        before = Access.of(document)
        document.version += 1
        document.filename, document.format, document.content_type = filename, fmt, CONTENT_TYPES[fmt]
        document.size_bytes, document.sha256, document.groups = len(data), sha256, groups
        # A new classification (or groups, tags) on identical content makes a version whose ingestion reuses
        # every vector and only rewrites the chunks' payloads (ingestion/pipeline.py).
        document.tags, document.classification = tags, level
        # The new access is the document's from now on, whatever becomes of the version: the chunks already
        # indexed follow the row at once, not when (or if) the new version is ready.
        widen = change_index_access(vector_store, document.id, before, Access.of(document))
    document.title = (upload.title or "").strip()[:500]
    document.status, document.stage, document.progress, document.error = "queued", "queued", 0, None
    document.updated_by = principal.id
    document.storage_path = blobs.save(document.id, fmt, data, document.version)
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
    widen()
    outbox.publish(job.id, document.id)
    DOCUMENTS_UPLOADED.inc()
    return document, True


@dataclass(frozen=True)
class Changes:
    """What PATCH /v1/documents/{id} changes; None leaves a field as it is."""

    groups: Sequence[str] | None = None
    classification: str | None = None
    tags: Sequence[str] | None = None
    title: str | None = None


def update(
    *, session: Session, vector_store: VectorStore, principal: Caller, document_id: str, changes: Changes
) -> Document:
    """Change a document's access, labels or title without a new upload (admin). Every chunk in the index
    follows in this request, by one payload update per change, and nothing is embedded again."""
    principal.require_role("admin")
    document = get(session=session, principal=principal, document_id=document_id)
    lock(session, document)
    before = Access.of(document)
    old = _described(document)
    if changes.groups is not None:
        document.groups = parse_groups(changes.groups)
    if changes.classification is not None:
        document.classification = parse_classification(changes.classification)
    if changes.tags is not None:
        document.tags = parse_tags(changes.tags)
    if changes.title is not None:
        document.title = changes.title.strip()[:500]
    changed = {key: {"from": old[key], "to": value} for key, value in _described(document).items() if old[key] != value}
    if not changed:
        return document
    document.updated_by = principal.id
    widen = change_index_access(vector_store, document.id, before, Access.of(document))
    audit.admin_action(
        session,
        principal.id,
        "document.update",
        "changed " + ", ".join(changed) + f" of {document.source!r}",
        details={"document_id": document.id, "changes": changed},
    )
    session.commit()
    widen()
    if {"tags", "title"} & changed.keys():  # labels, not access: they follow right after the commit
        vector_store.set_document_payload(document.id, {"tags": [*(document.tags or [])], "title": document.title})
    return document


def _described(document: Document) -> dict[str, object]:
    return {
        "groups": [*document.groups],  # (`list` is this module's listing verb)
        "classification": document.classification,
        "tags": [*(document.tags or [])],
        "title": document.title,
    }


def retry(*, session: Session, outbox: Outbox, principal: Caller, document_id: str) -> Document:
    """Queue the current version of a document again after its ingestion failed (admin)."""
    principal.require_role("admin")
    document = get(session=session, principal=principal, document_id=document_id)
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
    outbox.publish(job.id, document.id)
    return document


def list_versions(*, session: Session, principal: Caller, document_id: str) -> Sequence[DocumentVersion]:
    get(session=session, principal=principal, document_id=document_id)
    return session.scalars(
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document_id)
        .order_by(DocumentVersion.version.desc())
    ).all()


def _readable(principal: Caller, document: Document) -> bool:
    """The same rule retrieval puts into the vector query (services/core/access/rules.py)."""
    return principal.read_scope.allows(document.groups, document.classification)


def get(*, session: Session, principal: Caller, document_id: str) -> Document:
    """The document, or DocumentNotFound — also when it exists but the principal may not read it."""
    document = session.get(Document, document_id)
    if document is None or not _readable(principal, document):
        raise DocumentNotFound(f"no document {document_id}")
    return document


def list(
    *,
    session: Session,
    principal: Caller,
    limit: int,
    offset: int,
    status: str | None = None,
    q: str | None = None,
    classification: str | None = None,
    tag: str | None = None,
    group: str | None = None,
) -> tuple[Sequence[Document], int]:
    """A page of the documents the caller may read, newest first, narrowed by status, classification, a text in
    the title or file name, a tag or a group."""
    query = select(Document)
    if status is not None:
        query = query.where(Document.status == status)
    if classification is not None:
        query = query.where(Document.classification == classification)
    if q:
        literal = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{literal}%"
        query = query.where(
            func.lower(Document.title).like(pattern, escape="\\")
            | func.lower(Document.filename).like(pattern, escape="\\")
        )
    if tag is not None or group is not None:
        # JSON arrays cannot be filtered portably across SQLite and PostgreSQL: the SQL narrows, Python finishes.
        wanted = [
            d
            for d in session.scalars(query.order_by(Document.created_at.desc()))
            if (tag is None or tag in (d.tags or []))
            and (group is None or group in (d.groups or []))
            and _readable(principal, d)
        ]
        return wanted[offset : offset + limit], len(wanted)
    if principal.read_scope != ReadScope.everything():
        # JSON arrays cannot be filtered portably across SQLite and PostgreSQL; list then filter by ACL.
        readable = [d for d in session.scalars(query.order_by(Document.created_at.desc())) if _readable(principal, d)]
        return readable[offset : offset + limit], len(readable)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(Document.created_at.desc()).limit(limit).offset(offset))
    return page.all(), total


def delete(
    *, session: Session, vector_store: VectorStore, blobs: BlobStore, principal: Caller, document_id: str
) -> None:
    """Remove the document's vectors, chunks, row and original.

    The row is locked first, so an ingestion of it either finished before (and its chunks go here) or finds
    the row gone and removes what it staged; either way nothing of it stays searchable."""
    principal.require_role("admin")
    document = get(session=session, principal=principal, document_id=document_id)
    lock(session, document)
    vector_store.delete_document(document_id)
    session.delete(document)
    audit.admin_action(
        session,
        principal.id,
        "document.delete",
        f"deleted {document.filename}",
        details={"document_id": document_id},
    )
    session.commit()
    blobs.delete_document(document_id)
