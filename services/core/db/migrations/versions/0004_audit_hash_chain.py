"""audit hash chain: per-row payload digest and chain hashes, the chain head, erasure marker

Existing audit rows are renumbered 1..N in their order (ids may have gaps: PostgreSQL sequences skip the ids
of rolled-back inserts, and in the chain a gap means a deleted row) and chained in that order, so history
written before this migration is covered too. Nothing references audit_events.id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The chain's format is versioned (v1) and never edited in place, so calling it from here stays valid.
from services.core.audit.hashing import GENESIS_HASH, as_stored_json, payload_digest, row_hash

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("principal_id", sa.String()),
    sa.column("action", sa.String()),
    sa.column("rule_id", sa.String()),
    sa.column("decision", sa.String()),
    sa.column("reason", sa.Text()),
    sa.column("details", sa.JSON()),
    sa.column("payload_salt", sa.String()),
    sa.column("payload_digest", sa.String()),
    sa.column("prev_hash", sa.String()),
    sa.column("row_hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("payload_digest", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_principal_id"), ["principal_id"], unique=False)

    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_id", sa.Integer(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    last_id, last_hash = _chain_existing_rows(op.get_bind())
    op.execute(
        sa.text(
            "INSERT INTO audit_chain_head (id, last_id, last_hash, anchor_id, anchor_hash) "
            "VALUES (1, :last_id, :last_hash, 0, :genesis)"
        ).bindparams(last_id=last_id, last_hash=last_hash, genesis=GENESIS_HASH)
    )


def _chain_existing_rows(connection: sa.Connection) -> tuple[int, str]:
    """Renumber the rows 1..N and hash them into a chain; returns the last id and hash."""
    rows = connection.execute(
        sa.select(
            audit_events.c.id,
            audit_events.c.created_at,
            audit_events.c.principal_id,
            audit_events.c.action,
            audit_events.c.rule_id,
            audit_events.c.decision,
            audit_events.c.reason,
            audit_events.c.details,
        ).order_by(audit_events.c.id)
    ).all()
    prev = GENESIS_HASH
    for position, row in enumerate(rows, start=1):
        # Moving each row down to its position never collides: every id below it is already free or its own.
        details = as_stored_json(row.details)
        salt = secrets.token_hex(16)
        digest = payload_digest(salt, row.reason or "", details)
        hashed = row_hash(
            id=position,
            created_at=row.created_at,
            principal_id=row.principal_id,
            action=row.action,
            rule_id=row.rule_id,
            decision=row.decision,
            payload_digest=digest,
            prev_hash=prev,
        )
        connection.execute(
            sa.update(audit_events)
            .where(audit_events.c.id == row.id)
            .values(
                id=position,
                reason=row.reason or "",
                details=details,
                payload_salt=salt,
                payload_digest=digest,
                prev_hash=prev,
                row_hash=hashed,
            )
        )
        prev = hashed
    return len(rows), prev


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_principal_id"))
        batch_op.drop_column("erased_at")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("payload_digest")
        batch_op.drop_column("payload_salt")
