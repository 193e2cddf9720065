"""Database rows for tests that work straight on the database, with no ingestion behind them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core.db.models import Chunk, Document


def add_document(session: Session, document_id: str = "d1") -> None:
    """A ready-looking document row (no stored original: nothing here reads one)."""
    session.add(
        Document(
            id=document_id,
            title="t",
            filename="f.md",
            format="markdown",
            content_type="text/markdown",
            size_bytes=1,
            sha256="s",
            storage_path="p",
        )
    )
    session.flush()


def add_chunk(
    session: Session,
    chunk_id: str,
    text: str,
    *,
    index: int = 0,
    document_id: str = "d1",
    sentence_vectors: bytes | None = None,
    sentence_encoder: str = "",
) -> None:
    session.add(
        Chunk(
            id=chunk_id,
            document_id=document_id,
            chunk_index=index,
            text=text,
            text_hash="h",
            sentence_vectors=sentence_vectors,
            sentence_encoder=sentence_encoder,
        )
    )
