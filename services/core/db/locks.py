"""Row locks that work the same on PostgreSQL and SQLite."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.core.db.models import Document
from services.core.db.session import rows_affected


def lock_document(session: Session, document_id: str) -> bool:
    """Lock a document row for the rest of the session's transaction; False when there is no such row.

    A write, on purpose: it takes the row's lock on PostgreSQL and the database's writer lock on SQLite (where
    SELECT ... FOR UPDATE does nothing). Everything that changes what a document's chunks say in the index —
    an access change, a version going live, a delete, the reconciler — takes this lock first, so they happen
    one at a time and each sees the row as the one before left it."""
    touched = session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(version=Document.version)
        .execution_options(synchronize_session=False)
    )
    return bool(rows_affected(touched))
