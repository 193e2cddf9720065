"""API keys and the principal a request acts as. Keys are stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.access.rules import DEFAULT_CLASSIFICATION, ReadScope, effective_clearance
from services.core.db.models import ApiKey, Group, GroupMember, Principal
from services.core.errors import InvalidInput, NotAuthenticated, PermissionDenied

Role = Literal["admin", "user", "app"]
ROLES: tuple[Role, ...] = ("admin", "user", "app")
BOOTSTRAP_ADMIN = "bootstrap-admin"
KEY_PREFIX = "stw"


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


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


BOOTSTRAP_KEY = "bootstrap"


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


def _context(session: Session, principal: Principal, api_key: str | None = None) -> Caller:
    groups = memberships(session, principal.id)
    return Caller(
        principal.id,
        principal.name,
        principal.role,  # type: ignore[arg-type]
        tuple(g.name for g in groups),
        api_key,
        effective_clearance(g.clearance for g in groups),
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


def create_key(session: Session, name: str, role: str, groups: list[str]) -> tuple[Caller, str]:
    """Create (or reuse) the principal `name` and issue it a new key; the clear key is returned once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    groups = sorted({g.strip() for g in groups if g.strip()})
    principal = session.scalar(select(Principal).where(Principal.name == name))
    if len(groups) > 50 or any(len(g) > 100 for g in groups):
        raise InvalidInput("at most 50 groups of at most 100 characters each")
    if principal is None:
        principal = Principal(name=name, role=role)
        session.add(principal)
    else:
        principal.role = role
    session.flush()
    set_memberships(session, principal.id, groups)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(principal_id=principal.id, prefix=prefix, key_hash=hash_key(key)))
    session.flush()
    return _context(session, principal), key


def authenticate(session: Session, key: str | None, admin_key: str) -> Caller:
    """The principal owning `key`, or NotAuthenticated; comparisons are constant-time."""
    if not key:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    if hmac.compare_digest(key.encode(), admin_key.encode()):
        return _context(session, ensure_bootstrap_admin(session), BOOTSTRAP_KEY)
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None)))
        if row is not None and hmac.compare_digest(row.key_hash, hash_key(key)):
            principal = session.get(Principal, row.principal_id)
            if principal is not None:
                return _context(session, principal, row.prefix)
    raise NotAuthenticated("invalid or revoked API key")
