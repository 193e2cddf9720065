"""index generations: the relevance floor fitted to each generation's encoder

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("index_generations") as batch:
        batch.add_column(sa.Column("min_relevance", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("index_generations") as batch:
        batch.drop_column("min_relevance")
