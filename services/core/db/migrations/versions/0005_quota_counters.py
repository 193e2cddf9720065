"""quota counters: requests and tokens used per budget and fixed window (the database quota store)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_counters",
        sa.Column("scope_key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope_key", "window_start"),
    )
    with op.batch_alter_table("quota_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quota_counters_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quota_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_counters_expires_at"))
    op.drop_table("quota_counters")
