"""Site management for admins: create, list, update, rotate, delete; each change audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from services.core import audit
from services.core.access import sites
from services.core.access.principals import Caller
from services.core.db.models import Site


def create(*, session: Session, principal: Caller, fields: dict[str, Any]) -> sites.IssuedSite:
    principal.require_role("admin")
    issued = sites.create_site(session, created_by=principal.id, **fields)
    site = issued.site
    audit.admin_action(
        session,
        principal.id,
        "site.create",
        f"registered site {site.name!r} for {', '.join(site.origins)} granting at most {site.groups}",
        details={"site_id": site.id, "origins": site.origins, "groups": site.groups},
    )
    return issued


def list(*, session: Session, principal: Caller, limit: int, offset: int) -> tuple[Sequence[Site], int]:
    principal.require_role("admin")
    return sites.list_sites(session, limit=limit, offset=offset)


def update(*, session: Session, principal: Caller, site_id: str, changes: dict[str, Any]) -> Site:
    principal.require_role("admin")
    site = sites.update_site(session, site_id, changes)
    audit.admin_action(
        session,
        principal.id,
        "site.update",
        f"changed site {site.name!r}: {', '.join(sorted(changes))}",
        details={"site_id": site.id, "changes": {k: v for k, v in changes.items()}},
    )
    return site


def rotate(*, session: Session, principal: Caller, site_id: str, public_key: str | None) -> sites.IssuedSite:
    principal.require_role("admin")
    issued = sites.rotate_site(session, site_id, public_key=public_key)
    audit.admin_action(
        session,
        principal.id,
        "site.rotate",
        f"rotated the signing key of site {issued.site.name!r}: tokens signed with the old one now fail",
        details={"site_id": site_id},
    )
    return issued


def delete(*, session: Session, principal: Caller, site_id: str) -> None:
    principal.require_role("admin")
    site = sites.delete_site(session, site_id)
    audit.admin_action(
        session, principal.id, "site.delete", f"deleted site {site.name!r}", details={"site_id": site_id}
    )
