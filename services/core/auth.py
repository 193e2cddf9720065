"""API keys and the principal a request acts as. Keys are stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db.models import ApiKey, Principal
from services.core.errors import InvalidInput, NotAuthenticated, PermissionDenied

Role = Literal["admin", "user", "app"]
ROLES: tuple[Role, ...] = ("admin", "user", "app")
BOOTSTRAP_ADMIN = "bootstrap-admin"
KEY_PREFIX = "stw"


@dataclass(frozen=True)
class PrincipalContext:
    """The authenticated caller: who, in which role, reading as which groups."""

    id: str
    name: str
    role: Role
    groups: tuple[str, ...]
    # The public prefix of the key the request came with ("bootstrap" for STEWARD_ADMIN_API_KEY): quotas per key.
    api_key: str | None = None

    @property
    def readable_groups(self) -> list[str] | None:
        """Groups retrieval filters on; None means everything (admins govern all documents)."""
        return None if self.role == "admin" else list(self.groups)

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDenied(f"this action needs role {' or '.join(roles)}; you are {self.role}")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


BOOTSTRAP_KEY = "bootstrap"


def _context(principal: Principal, api_key: str | None = None) -> PrincipalContext:
    return PrincipalContext(principal.id, principal.name, principal.role, tuple(principal.groups), api_key)  # type: ignore[arg-type]


def ensure_bootstrap_admin(session: Session) -> Principal:
    """The principal behind STEWARD_ADMIN_API_KEY, created on first start."""
    principal = session.scalar(select(Principal).where(Principal.name == BOOTSTRAP_ADMIN))
    if principal is None:
        principal = Principal(name=BOOTSTRAP_ADMIN, role="admin", groups=[])
        session.add(principal)
        session.flush()
    return principal


def create_key(session: Session, name: str, role: str, groups: list[str]) -> tuple[PrincipalContext, str]:
    """Create (or reuse) the principal `name` and issue it a new key; the clear key is returned once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    groups = sorted({g.strip() for g in groups if g.strip()})
    principal = session.scalar(select(Principal).where(Principal.name == name))
    if principal is None:
        principal = Principal(name=name, role=role, groups=groups)
        session.add(principal)
    else:
        principal.role, principal.groups = role, groups
    session.flush()
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(principal_id=principal.id, prefix=prefix, key_hash=hash_key(key)))
    session.flush()
    return _context(principal), key


def authenticate(session: Session, key: str | None, admin_key: str) -> PrincipalContext:
    """The principal owning `key`, or NotAuthenticated; comparisons are constant-time."""
    if not key:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    if hmac.compare_digest(key.encode(), admin_key.encode()):
        return _context(ensure_bootstrap_admin(session), BOOTSTRAP_KEY)
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.revoked_at.is_(None)))
        if row is not None and hmac.compare_digest(row.key_hash, hash_key(key)):
            principal = session.get(Principal, row.principal_id)
            if principal is not None:
                return _context(principal, row.prefix)
    raise NotAuthenticated("invalid or revoked API key")
