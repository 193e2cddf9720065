"""Admin routes for the widget's sites: create, list, update, rotate, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.api.deps import AdminCaller, SessionDep
from services.api.fields import Limit, Offset
from services.api.sites import service
from services.api.sites.schemas import SiteCreate, SiteIssued, SiteList, SiteOut, SiteRotate, SiteUpdate
from services.core.access.sites import IssuedSite
from services.core.db.models import Site

router = APIRouter(prefix="/v1/admin/sites", tags=["admin"])


def _out(site: Site) -> SiteOut:
    return SiteOut(
        id=site.id,
        name=site.name,
        origins=site.origins,
        groups=site.groups,
        requests_per_minute=site.requests_per_minute,
        tokens_per_day=site.tokens_per_day,
        algorithm=site.algorithm,
        created_at=site.created_at,
        secret_rotated_at=site.secret_rotated_at,
    )


def _issued(issued: IssuedSite) -> SiteIssued:
    return SiteIssued(**_out(issued.site).model_dump(), secret=issued.secret)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SiteIssued)
def create_site(body: SiteCreate, session: SessionDep, principal: AdminCaller) -> SiteIssued:
    """Register a site that embeds the widget (admin). With HS256 the signing secret is in this response only."""
    return _issued(service.create(session=session, principal=principal, fields=body.model_dump()))


@router.get("", response_model=SiteList)
def list_sites(session: SessionDep, principal: AdminCaller, limit: Limit = 100, offset: Offset = 0) -> SiteList:
    """Sites, newest first (admin); never their secrets."""
    rows, total = service.list(session=session, principal=principal, limit=limit, offset=offset)
    return SiteList(sites=[_out(s) for s in rows], total=total, limit=limit, offset=offset)


@router.patch("/{site_id}", response_model=SiteOut)
def update_site(site_id: str, body: SiteUpdate, session: SessionDep, principal: AdminCaller) -> SiteOut:
    """Change a site's name, origins, groups or budgets (admin); the next request sees the change."""
    changes = body.model_dump(exclude_unset=True)
    return _out(service.update(session=session, principal=principal, site_id=site_id, changes=changes))


@router.post("/{site_id}/rotate", response_model=SiteIssued)
def rotate_site(
    site_id: str, session: SessionDep, principal: AdminCaller, body: SiteRotate | None = None
) -> SiteIssued:
    """A new signing secret (or public key) for the site (admin); tokens signed with the old one fail at once."""
    public_key = body.public_key if body else None
    return _issued(service.rotate(session=session, principal=principal, site_id=site_id, public_key=public_key))


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_site(site_id: str, session: SessionDep, principal: AdminCaller) -> Response:
    """Remove a site (admin): its tokens are refused and its origins lose CORS at once."""
    service.delete(session=session, principal=principal, site_id=site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
