"""The principal a request acts as (the Caller), its groups and memberships, and the bootstrap admin."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.access.rules import DEFAULT_CLASSIFICATION, ReadScope, effective_clearance
from services.core.db.models import Group, GroupMember, Principal
from services.core.errors import PermissionDenied

Role = Literal["admin", "user", "app"]
ROLES: tuple[Role, ...] = ("admin", "user", "app")
BOOTSTRAP_ADMIN = "bootstrap-admin"


@dataclass(frozen=True)
class SiteBudget:
    """The widget site a request came through, with the budgets the admin gave it (services/core/quota/plan.py)."""

    id: str
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None


@dataclass(frozen=True)
class Caller:
    """Who a request acts as: the principal, its role and groups, the key it came with and the site it came from.

    Access rules, policy scoping and quotas all read this one object."""

    id: str
    name: str
    role: Role
    groups: tuple[str, ...]
    # The public prefix of the key the request came with ("bootstrap" for STEWARD_ADMIN_API_KEY): quotas per key.
    api_key: str | None = None
    # The highest clearance of the principal's groups (services/core/access/rules.py); None without groups.
    clearance: str | None = DEFAULT_CLASSIFICATION
    # The request's Origin header (the embedding widget's site): quotas per origin.
    origin: str | None = None
    # What the key may be used for (services/core/access/keys.py): search, chat, ingest, admin.
    scopes: frozenset[str] = frozenset(("search", "chat", "ingest", "admin"))
    # The widget site whose signed user token the request carried (services/core/access/sites.py); None for keys.
    site: SiteBudget | None = None

    @property
    def readable_groups(self) -> list[str] | None:
        """Groups retrieval filters on; None means everything (admins govern all documents)."""
        return None if self.role == "admin" else list(self.groups)

    @property
    def read_scope(self) -> ReadScope:
        """Groups and classification levels this principal reads; unrestricted for admins."""
        return ReadScope.everything() if self.role == "admin" else ReadScope.of(self.groups, self.clearance)

    def with_origin(self, origin: str) -> Caller:
        return dataclasses.replace(self, origin=origin)

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDenied(f"this action needs role {' or '.join(roles)}; you are {self.role}")

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(
                f"this API key does not have the {scope!r} scope (it has {', '.join(sorted(self.scopes))})"
            )


def memberships(session: Session, principal_id: str) -> list[Group]:
    """The groups a principal belongs to, by name."""
    return list(
        session.scalars(
            select(Group)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.principal_id == principal_id)
            .order_by(Group.name)
        )
    )


def caller_of(session: Session, principal: Principal, api_key: str | None, scopes: frozenset[str]) -> Caller:
    """The Caller a request with this principal's key acts as: its groups and clearance read now."""
    groups = memberships(session, principal.id)
    return Caller(
        principal.id,
        principal.name,
        principal.role,  # type: ignore[arg-type]
        tuple(g.name for g in groups),
        api_key,
        effective_clearance(g.clearance for g in groups),
        scopes=scopes,
    )


def ensure_groups(session: Session, names: list[str]) -> list[Group]:
    """The named groups, creating missing ones with the default clearance (what `keys create --groups` did
    before groups were rows: a name was enough)."""
    found = {g.name: g for g in session.scalars(select(Group).where(Group.name.in_(names)))}
    for name in names:
        if name not in found:
            found[name] = Group(name=name, clearance=DEFAULT_CLASSIFICATION, description="")
            session.add(found[name])
    session.flush()
    return [found[n] for n in names]


def set_memberships(session: Session, principal_id: str, names: list[str]) -> None:
    """Make the principal a member of exactly these groups."""
    wanted = {g.id for g in ensure_groups(session, names)}
    current = {
        m.group_id: m for m in session.scalars(select(GroupMember).where(GroupMember.principal_id == principal_id))
    }
    for group_id, member in current.items():
        if group_id not in wanted:
            session.delete(member)
    for group_id in wanted - current.keys():
        session.add(GroupMember(group_id=group_id, principal_id=principal_id))
    session.flush()


def ensure_bootstrap_admin(session: Session) -> Principal:
    """The principal behind STEWARD_ADMIN_API_KEY, created on first start."""
    principal = session.scalar(select(Principal).where(Principal.name == BOOTSTRAP_ADMIN))
    if principal is None:
        principal = Principal(name=BOOTSTRAP_ADMIN, role="admin")
        session.add(principal)
        session.flush()
    return principal
