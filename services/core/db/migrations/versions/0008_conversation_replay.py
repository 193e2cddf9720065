"""messages keep what the model saw: each turn's exact content and the sources quoted in it

A follow-up's prompt replays earlier turns byte for byte (vLLM's prefix cache), and cites the documents quoted
in them under the numbers they had. Older messages have neither: they are replayed as plain text.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_content", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sources")
        batch_op.drop_column("model_content")
