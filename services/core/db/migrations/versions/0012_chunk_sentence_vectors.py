"""chunks: their sentences' vectors, embedded at ingestion for the chats that cite them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Chunks ingested before have none: their chats embed the sentences as before, until a new version of the
    # document or `steward index sentences` fills them.
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("sentence_vectors", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("sentence_encoder", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("sentence_encoder")
        batch.drop_column("sentence_vectors")
