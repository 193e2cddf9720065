"""versioned, incremental ingestion: document versions, sources, leases, stages, chunk content hashes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:47:51.366582
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "version"),
    )
    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_versions_document_id"), ["document_id"], unique=False)

    # Server defaults fill rows that predate this revision; the models supply values from then on.
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("location", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("indexed_version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("stage", sa.String(length=16), nullable=False, server_default="queued"))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updated_by", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_documents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_source"), ["source"], unique=True)

    with op.batch_alter_table("ingest_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("chunks_embedded", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("chunks_reused", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("chunks_removed", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_ingest_jobs_status"), ["status"], unique=False)

    # Documents that were ready before this revision are indexed at their (only) version.
    op.execute("UPDATE documents SET indexed_version = 1, stage = 'done' WHERE status = 'ready'")


def downgrade() -> None:
    with op.batch_alter_table("ingest_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_jobs_status"))
        for column in ("started_at", "enqueued_at", "chunks_removed", "chunks_reused", "chunks_embedded", "version"):
            batch_op.drop_column(column)

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_source"))
        batch_op.drop_index(batch_op.f("ix_documents_status"))
        for column in (
            "updated_by",
            "lease_expires_at",
            "lease_owner",
            "stage",
            "indexed_version",
            "version",
            "source",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.drop_column("location")
        batch_op.drop_column("content_hash")

    with op.batch_alter_table("document_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_versions_document_id"))
    op.drop_table("document_versions")
