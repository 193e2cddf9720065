"""API key management for admins: issue, list, revoke, rotate; each change audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.core import audit
from services.core.access import keys
from services.core.access.principals import Caller
from services.core.db.models import ApiKey, Principal


def create(
    *,
    session: Session,
    principal: Caller,
    name: str,
    role: str,
    groups: Sequence[str],
    scopes: Sequence[str] | None,
    expires_in_days: int | None,
    label: str,
) -> keys.IssuedKey:
    principal.require_role("admin")
    issued = keys.create_key(
        session,
        name,
        role,
        groups,
        scopes=scopes,
        expires_in_days=expires_in_days,
        label=label,
        created_by=principal.id,
    )
    audit.admin_action(
        session,
        principal.id,
        "key.create",
        f"issued key {issued.row.prefix} to {name!r} as {role} with scopes {sorted(issued.caller.scopes)}",
        details={"prefix": issued.row.prefix, "principal_id": issued.caller.id, "groups": sorted(groups)},
    )
    return issued


def list(
    *, session: Session, principal: Caller, principal_id: str | None, include_revoked: bool, limit: int, offset: int
) -> tuple[Sequence[tuple[ApiKey, Principal]], int]:
    principal.require_role("admin")
    return keys.list_keys(
        session, principal_id=principal_id, include_revoked=include_revoked, limit=limit, offset=offset
    )


def delete(*, session: Session, principal: Caller, prefix: str) -> tuple[ApiKey, Principal]:
    """Revoke a key: refused from the next request on, by every process."""
    principal.require_role("admin")
    row = keys.revoke_key(session, prefix)
    audit.admin_action(session, principal.id, "key.revoke", f"revoked key {prefix}", details={"prefix": prefix})
    return keys.find_key(session, row.prefix)


def rotate(*, session: Session, principal: Caller, prefix: str, expires_in_days: int | None) -> keys.IssuedKey:
    """A new secret for the same principal, scopes and label; the old key is revoked at once."""
    principal.require_role("admin")
    issued = keys.rotate_key(session, prefix, expires_in_days=expires_in_days)
    audit.admin_action(
        session,
        principal.id,
        "key.rotate",
        f"rotated key {prefix} to {issued.row.prefix}",
        details={"old_prefix": prefix, "prefix": issued.row.prefix},
    )
    return issued
