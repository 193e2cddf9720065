"""Admin routes for API keys: create, list, revoke (DELETE), rotate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.api.deps import AdminCaller, SessionDep
from services.api.fields import Limit, Offset
from services.api.keys import service
from services.api.keys.schemas import KeyCreate, KeyIssued, KeyList, KeyOut, KeyRotate
from services.core.access.keys import ROLE_SCOPES, IssuedKey
from services.core.db.models import ApiKey, Principal

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])


def _out(row: ApiKey, principal: Principal) -> KeyOut:
    return KeyOut(
        prefix=row.prefix,
        principal_id=principal.id,
        principal_name=principal.name,
        role=principal.role,
        label=row.label,
        scopes=sorted(row.scopes if row.scopes is not None else ROLE_SCOPES[principal.role]),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _issued(issued: IssuedKey, principal: Principal) -> KeyIssued:
    return KeyIssued(**_out(issued.row, principal).model_dump(), key=issued.key)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyIssued)
def create_key(body: KeyCreate, session: SessionDep, principal: AdminCaller) -> KeyIssued:
    """Issue a key (admin). The secret is in this response only; Steward keeps its hash."""
    issued = service.create(
        session=session,
        principal=principal,
        name=body.name,
        role=body.role,
        groups=body.groups,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        label=body.label,
    )
    owner = session.get(Principal, issued.row.principal_id)
    assert owner is not None
    return _issued(issued, owner)


@router.get("", response_model=KeyList)
def list_keys(
    session: SessionDep,
    principal: AdminCaller,
    principal_id: Annotated[str | None, Query(max_length=36, description="only this principal's keys")] = None,
    include_revoked: Annotated[bool, Query(description="also keys already revoked")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> KeyList:
    """Keys, newest first, with scopes, expiry and when each was last used (admin); never their secrets."""
    rows, total = service.list(
        session=session,
        principal=principal,
        principal_id=principal_id,
        include_revoked=include_revoked,
        limit=limit,
        offset=offset,
    )
    return KeyList(keys=[_out(row, owner) for row, owner in rows], total=total, limit=limit, offset=offset)


@router.delete("/{prefix}", response_model=KeyOut)
def revoke_key(prefix: str, session: SessionDep, principal: AdminCaller) -> KeyOut:
    """Revoke a key (admin): every process refuses it from the next request on. Revoking twice is harmless."""
    return _out(*service.delete(session=session, principal=principal, prefix=prefix))


@router.post("/{prefix}/rotate", status_code=status.HTTP_201_CREATED, response_model=KeyIssued)
def rotate_key(prefix: str, session: SessionDep, principal: AdminCaller, body: KeyRotate | None = None) -> KeyIssued:
    """Replace a key's secret (admin): a new key with the same principal, scopes and label; the old one is
    revoked at once."""
    issued = service.rotate(
        session=session,
        principal=principal,
        prefix=prefix,
        expires_in_days=body.expires_in_days if body else None,
    )
    owner = session.get(Principal, issued.row.principal_id)
    assert owner is not None
    return _issued(issued, owner)
