"""API keys: issue, list, revoke, rotate and expire them; scopes; authentication of a presented key.

Keys are stored as SHA-256 hashes, never in clear; the public prefix finds the row. Authentication reads the
row on every request, so a revoked or expired key is refused by every process from the next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.core.access.principals import (
    ROLES,
    Caller,
    Role,
    caller_of,
    ensure_bootstrap_admin,
    set_memberships,
)
from services.core.db.models import ApiKey, Principal, utcnow
from services.core.errors import InvalidInput, KeyNotFound, NotAuthenticated

Scope = Literal["search", "chat", "ingest", "admin"]
SCOPES: tuple[Scope, ...] = ("search", "chat", "ingest", "admin")
# What a key may do when it names no scopes: people and apps read and ask; admins do everything.
ROLE_SCOPES: dict[str, tuple[Scope, ...]] = {
    "admin": SCOPES,
    "user": ("search", "chat"),
    "app": ("search", "chat"),
}
KEY_PREFIX = "stw"
BOOTSTRAP_KEY = "bootstrap"
# last_used_at is written at most this often per key: a busy key costs one write a minute, not one a request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the clear text is shown once and never stored."""

    key: str
    row: ApiKey
    caller: Caller


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _scopes(role: str, requested: Sequence[str] | None) -> list[str]:
    allowed = ROLE_SCOPES[role]
    if requested is None:
        return list(allowed)
    wanted = sorted({s.strip() for s in requested if s.strip()})
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
    beyond = [s for s in wanted if s not in allowed]
    if beyond:
        raise InvalidInput(f"a {role} key cannot have scope {beyond[0]!r}; a {role} may have {', '.join(allowed)}")
    if not wanted:
        raise InvalidInput("a key needs at least one scope")
    return wanted


def _expiry(expires_in_days: int | None) -> datetime | None:
    if expires_in_days is None:
        return None
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}")
    return utcnow() + timedelta(days=expires_in_days)


def _new_key(session: Session, principal: Principal, **columns: object) -> tuple[str, ApiKey]:
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"  # 256 random bits after the prefix
    row = ApiKey(principal_id=principal.id, prefix=prefix, key_hash=hash_key(key), **columns)
    session.add(row)
    session.flush()
    return key, row


def create_key(
    session: Session,
    name: str,
    role: str,
    groups: Sequence[str],
    *,
    scopes: Sequence[str] | None = None,
    expires_in_days: int | None = None,
    label: str = "",
    created_by: str | None = None,
) -> IssuedKey:
    """Create (or update) the principal `name` and issue it a new key; the clear key is returned once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a principal name is 1 to 200 characters")
    group_names = sorted({g.strip() for g in groups if g.strip()})
    if len(group_names) > 50 or any(len(g) > 100 for g in group_names):
        raise InvalidInput("at most 50 groups of at most 100 characters each")
    if len(label) > 200:
        raise InvalidInput("a label is at most 200 characters")
    key_scopes = _scopes(role, scopes)
    expires_at = _expiry(expires_in_days)
    principal = _principal_named(session, name, role)
    principal.role = role
    session.flush()
    set_memberships(session, principal.id, group_names)
    key, row = _new_key(
        session, principal, scopes=key_scopes, expires_at=expires_at, label=label.strip(), created_by=created_by
    )
    return IssuedKey(key, row, caller_of(session, principal, row.prefix, frozenset(key_scopes)))


def _principal_named(session: Session, name: str, role: str) -> Principal:
    """The principal `name`, created if missing. Two admins issuing the first key for one name at once both
    see no row: the loser's insert fails on the unique name, inside a savepoint, and it takes the winner's row."""
    principal = session.scalar(select(Principal).where(Principal.name == name))
    if principal is not None:
        return principal
    try:
        with session.begin_nested():
            principal = Principal(name=name, role=role)
            session.add(principal)
        return principal
    except IntegrityError:
        return session.scalars(select(Principal).where(Principal.name == name)).one()


def list_keys(
    session: Session, *, principal_id: str | None, include_revoked: bool, limit: int, offset: int
) -> tuple[list[tuple[ApiKey, Principal]], int]:
    """Keys, newest first, with their principals."""
    query = select(ApiKey, Principal).join(Principal, Principal.id == ApiKey.principal_id)
    if principal_id is not None:
        query = query.where(ApiKey.principal_id == principal_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(ApiKey.created_at.desc(), ApiKey.id).limit(limit).offset(offset)).all()
    return [(key, principal) for key, principal in rows], total


def find_key(session: Session, prefix: str) -> tuple[ApiKey, Principal]:
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    principal = session.get(Principal, row.principal_id) if row is not None else None
    if row is None or principal is None:
        raise KeyNotFound(f"no API key with prefix {prefix!r}")
    return row, principal


def revoke_key(session: Session, prefix: str) -> ApiKey:
    """Revoke a key (idempotent: a revoked key stays revoked at its first revocation time)."""
    row, _ = find_key(session, prefix)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def rotate_key(session: Session, prefix: str, *, expires_in_days: int | None = None) -> IssuedKey:
    """A new key with the same principal, scopes and label; the old one is revoked in the same transaction."""
    old, principal = find_key(session, prefix)
    if old.revoked_at is not None:
        raise InvalidInput(f"key {prefix!r} is revoked; create a new key instead")
    expires_at = _expiry(expires_in_days) if expires_in_days is not None else old.expires_at
    key, row = _new_key(
        session, principal, scopes=old.scopes, expires_at=expires_at, label=old.label, created_by=old.created_by
    )
    old.revoked_at = utcnow()
    scopes = frozenset(old.scopes) if old.scopes is not None else frozenset(ROLE_SCOPES[principal.role])
    return IssuedKey(key, row, caller_of(session, principal, row.prefix, scopes))


def authenticate(session: Session, key: str | None, admin_key: str | None) -> Caller:
    """The principal owning `key`, or NotAuthenticated; comparisons are constant-time. `admin_key` is the
    bootstrap admin key, or None where it may not be used (the placeholder, off this machine).

    The message never says whether a key exists, was revoked or expired: only that it is not valid now."""
    if not key:
        raise NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
    if len(key) > 200:
        raise NotAuthenticated("invalid, revoked or expired API key")
    if admin_key is not None and hmac.compare_digest(key.encode(), admin_key.encode()):
        return caller_of(session, ensure_bootstrap_admin(session), BOOTSTRAP_KEY, frozenset(SCOPES))
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
        now = utcnow()
        if (
            row is not None
            and hmac.compare_digest(row.key_hash, hash_key(key))
            and row.revoked_at is None
            and (row.expires_at is None or row.expires_at > now)
        ):
            principal = session.get(Principal, row.principal_id)
            if principal is not None:
                if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                    row.last_used_at = now
                role: Role = principal.role  # type: ignore[assignment]
                scopes = frozenset(row.scopes) if row.scopes is not None else frozenset(ROLE_SCOPES[role])
                return caller_of(session, principal, row.prefix, scopes)
    raise NotAuthenticated("invalid, revoked or expired API key")
