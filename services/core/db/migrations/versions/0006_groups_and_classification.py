"""groups with clearances, group membership, document classification; principals.groups moves to membership

principals.groups stays as a column but is no longer read: dropping it on SQLite means rebuilding `principals`,
and dropping the old table there runs its ON DELETE CASCADE actions (api keys, conversations, memberships).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Groups that existed only as names get this clearance, and existing documents this classification: everyone
# keeps reading exactly what they read before the upgrade.
DEFAULT_LEVEL = "internal"


def _names(value: Any) -> list[str]:
    if isinstance(value, str):  # SQLite hands JSON columns back as text in a bare Core select
        value = json.loads(value or "[]")
    return [str(v) for v in value or [] if str(v).strip()]


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("clearance", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "principal_id"),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_principal_id"), ["principal_id"], unique=False)
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("classification", sa.String(length=16), server_default=DEFAULT_LEVEL, nullable=False)
        )

    # Every group name in use becomes a group; every principal's listed groups become memberships.
    bind = op.get_bind()
    principals = sa.table("principals", sa.column("id", sa.String), sa.column("groups", sa.JSON))
    documents = sa.table("documents", sa.column("groups", sa.JSON))
    members = {row.id: _names(row.groups) for row in bind.execute(sa.select(principals.c.id, principals.c.groups))}
    names = {n for groups in members.values() for n in groups}
    names |= {n for row in bind.execute(sa.select(documents.c.groups)) for n in _names(row.groups)}
    now = datetime.now(UTC)
    ids = {name: str(uuid.uuid4()) for name in sorted(names)}
    groups_table = sa.table(
        "groups",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("clearance", sa.String),
        sa.column("description", sa.Text),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    members_table = sa.table(
        "group_members",
        sa.column("group_id", sa.String),
        sa.column("principal_id", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    if ids:
        op.bulk_insert(
            groups_table,
            [
                {"id": i, "name": n, "clearance": DEFAULT_LEVEL, "description": "", "created_at": now}
                for n, i in ids.items()
            ],
        )
    rows = [
        {"group_id": ids[n], "principal_id": p, "created_at": now} for p, groups in members.items() for n in set(groups)
    ]
    if rows:
        op.bulk_insert(members_table, rows)
    # The list is now only a record of what was migrated; blank it so nobody mistakes it for the truth.
    bind.execute(sa.update(principals).values(groups=[]))


def downgrade() -> None:
    bind = op.get_bind()
    found = bind.execute(
        sa.text(
            "SELECT m.principal_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id"
            " ORDER BY m.principal_id, g.name"
        )
    )
    listed: dict[str, list[str]] = {}
    for principal_id, name in found:
        listed.setdefault(principal_id, []).append(name)
    principals = sa.table("principals", sa.column("id", sa.String), sa.column("groups", sa.JSON))
    bind.execute(sa.update(principals).values(groups=[]))
    for principal_id, names in listed.items():
        bind.execute(sa.update(principals).where(principals.c.id == principal_id).values(groups=names))
    # Never a table rebuild: on SQLite, dropping the rebuilt `documents` would cascade to chunks and versions.
    # SQLite has dropped columns in place since 3.35.
    with op.batch_alter_table("documents", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("classification")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_principal_id"))
    op.drop_table("group_members")
    op.drop_table("groups")
