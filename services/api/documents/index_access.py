"""Keeping a document's chunks in the index as readable as its row says, while its access changes.

The invariant (docs/architecture.md): a chunk's access payload equals its document row's access at every
moment a search can see it. Access changes (an upload of a new version, PATCH) lock the row, narrow the index
before they commit and widen it after; ingestion makes a version live under the same lock.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from services.core.access.index import Access
from services.core.db.locks import lock_document
from services.core.db.models import Document
from services.core.vectorstore import VectorStore


def lock(session: Session, document: Document) -> None:
    """Take the document row's lock for the rest of the transaction, and see its latest state."""
    lock_document(session, document.id)
    session.refresh(document)


def change_index_access(
    vector_store: VectorStore, document_id: str, before: Access, after: Access
) -> Callable[[], None]:
    """Narrow the chunks' access now, before the change commits, to what both the old and the new access allow;
    returns the step that widens it to the new access, to run once the change has committed. At no moment can
    a chunk be read by someone the committed row does not let read the document."""
    if after == before:
        return lambda: None
    narrowed = before.meet(after)
    if narrowed != before:
        vector_store.set_document_payload(document_id, narrowed.payload())
    if narrowed == after:
        return lambda: None
    return lambda: vector_store.set_document_payload(document_id, after.payload())
