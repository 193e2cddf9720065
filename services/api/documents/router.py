"""HTTP routes for documents; each handler parses, calls the service, shapes the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool

from services.api.deps import BlobsDep, CurrentCaller, IngestCaller, OutboxDep, SessionDep, SettingsDep, VectorStoreDep
from services.api.documents import service
from services.api.documents.schemas import (
    DocumentList,
    DocumentOut,
    DocumentStatus,
    DocumentUpdate,
    DocumentVersionOut,
)
from services.api.fields import Limit, Offset
from services.core.access.rules import Classification
from services.core.errors import PayloadTooLarge

router = APIRouter(prefix="/v1/documents", tags=["documents"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=DocumentOut)
async def upload_document(
    settings: SettingsDep,
    session: SessionDep,
    blobs: BlobsDep,
    outbox: OutboxDep,
    vector_store: VectorStoreDep,
    principal: IngestCaller,
    response: Response,
    file: Annotated[UploadFile, File(description="txt, md, html, pdf or docx")],
    groups: Annotated[list[str], Form(description="groups allowed to read it (repeat or comma-separate)")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    source: Annotated[
        str | None, Form(max_length=1000, description="stable name; uploading to it again makes a new version")
    ] = None,
    tags: Annotated[
        list[str] | None, Form(description="labels searches can filter on (repeat or comma-separate)")
    ] = None,
    classification: Annotated[
        str | None, Form(description="public, internal (default), confidential or restricted")
    ] = None,
) -> DocumentOut:
    """Upload a document or a new version of one (admin).

    202 with the queued document; 200 with the existing one when the content is already there unchanged."""
    principal.require_role("admin")
    limit = settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"file is larger than the {limit} byte limit")
    upload = service.Upload(file.filename or "", data, groups, title, source, tags or [], classification)
    document, created = await run_in_threadpool(
        lambda: service.create(
            session=session,
            blobs=blobs,
            outbox=outbox,
            vector_store=vector_store,
            max_upload_bytes=limit,
            principal=principal,
            upload=upload,
        )
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return DocumentOut.model_validate(document)


@router.get("", response_model=DocumentList)
def list_documents(
    session: SessionDep,
    principal: CurrentCaller,
    limit: Limit = 100,
    offset: Offset = 0,
    status: Annotated[DocumentStatus | None, Query(description="only documents with this status")] = None,
    q: Annotated[str | None, Query(max_length=200, description="only titles or file names containing this")] = None,
    classification: Annotated[Classification | None, Query(description="only this classification")] = None,
    tag: Annotated[str | None, Query(max_length=100, description="only documents with this tag")] = None,
    group: Annotated[str | None, Query(max_length=100, description="only documents shared with this group")] = None,
) -> DocumentList:
    """Documents the caller may read, newest first; narrowed by status, classification, text, tag or group."""
    documents, total = service.list(
        session=session,
        principal=principal,
        limit=limit,
        offset=offset,
        status=status,
        q=q,
        classification=classification,
        tag=tag,
        group=group,
    )
    return DocumentList(
        documents=[DocumentOut.seen_by(d, principal) for d in documents], total=total, limit=limit, offset=offset
    )


@router.get("/{document_id}", response_model=DocumentOut)
def get_document(session: SessionDep, principal: CurrentCaller, document_id: str) -> DocumentOut:
    """Status, progress, chunk count and error of one document."""
    return DocumentOut.seen_by(service.get(session=session, principal=principal, document_id=document_id), principal)


@router.get("/{document_id}/versions", response_model=list[DocumentVersionOut])
def document_versions(session: SessionDep, principal: CurrentCaller, document_id: str) -> list[DocumentVersionOut]:
    """Every uploaded version of a document, newest first: who uploaded it, when, and its hash."""
    versions = service.list_versions(session=session, principal=principal, document_id=document_id)
    return [DocumentVersionOut.seen_by(v, principal) for v in versions]


@router.patch("/{document_id}", response_model=DocumentOut)
def update_document(
    body: DocumentUpdate, session: SessionDep, vector_store: VectorStoreDep, principal: IngestCaller, document_id: str
) -> DocumentOut:
    """Change a document's groups, classification, tags or title without uploading it again (admin).

    Every chunk in the index follows within this request (no re-embedding); the change is audited."""
    changes = service.Changes(body.groups, body.classification, body.tags, body.title)
    document = service.update(
        session=session, vector_store=vector_store, principal=principal, document_id=document_id, changes=changes
    )
    return DocumentOut.model_validate(document)


@router.post("/{document_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=DocumentOut)
def retry_document(session: SessionDep, outbox: OutboxDep, principal: IngestCaller, document_id: str) -> DocumentOut:
    """Queue a failed document's current version again (admin); 409 when it has not failed."""
    document = service.retry(session=session, outbox=outbox, principal=principal, document_id=document_id)
    return DocumentOut.model_validate(document)


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(
    session: SessionDep, vector_store: VectorStoreDep, blobs: BlobsDep, principal: IngestCaller, document_id: str
) -> Response:
    """Delete a document and every vector of it (admin)."""
    service.delete(
        session=session, vector_store=vector_store, blobs=blobs, principal=principal, document_id=document_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
