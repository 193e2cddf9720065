"""Admin routes for permissions: groups and clearances, membership, a principal's access, access explanations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import AdminCaller, SessionDep
from services.api.groups import service
from services.api.groups.schemas import (
    AccessExplanationOut,
    GroupCreate,
    GroupList,
    GroupOut,
    GroupUpdate,
    MembershipOut,
    PrincipalAccessOut,
    PrincipalGroup,
)
from services.core.access.rules import effective_clearance
from services.core.db.models import Group

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _out(group: Group, members: Sequence[str]) -> GroupOut:
    return GroupOut(
        name=group.name,
        clearance=group.clearance,
        description=group.description,
        members=list(members),
        created_at=group.created_at,
    )


@router.post("/groups", status_code=status.HTTP_201_CREATED, response_model=GroupOut)
def create_group(body: GroupCreate, session: SessionDep, principal: AdminCaller) -> GroupOut:
    """Create a group (admin); 409 if the name is taken. Clearance defaults to internal."""
    group = service.create(
        session=session, admin=principal, name=body.name, clearance=body.clearance, description=body.description
    )
    return _out(group, [])


@router.get("/groups", response_model=GroupList)
def list_groups(session: SessionDep, principal: AdminCaller) -> GroupList:
    """Every group with its clearance and member principal ids (admin)."""
    return GroupList(groups=[_out(g, members) for g, members in service.list(session=session, admin=principal)])


@router.patch("/groups/{name}", response_model=GroupOut)
def update_group(name: str, body: GroupUpdate, session: SessionDep, principal: AdminCaller) -> GroupOut:
    """Change a group's clearance or description (admin); effective on the members' next request."""
    group = service.update(
        session=session, admin=principal, name=name, clearance=body.clearance, description=body.description
    )
    return _out(*service.get(session=session, name=group.name))


@router.put("/groups/{name}/members/{principal_id}", response_model=MembershipOut)
def add_member(name: str, principal_id: str, session: SessionDep, principal: AdminCaller) -> MembershipOut:
    """Make a principal a member (admin; idempotent). 404 for an unknown group or principal."""
    service.add_member(session=session, admin=principal, name=name, principal_id=principal_id)
    return MembershipOut(group=name, principal_id=principal_id, member=True)


@router.delete("/groups/{name}/members/{principal_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(name: str, principal_id: str, session: SessionDep, principal: AdminCaller) -> Response:
    """Remove a membership (admin); 404 when the principal is not a member."""
    service.remove_member(session=session, admin=principal, name=name, principal_id=principal_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/principals/{principal_id}", response_model=PrincipalAccessOut)
def principal_access(principal_id: str, session: SessionDep, principal: AdminCaller) -> PrincipalAccessOut:
    """A principal's groups, effective clearance (the highest of its groups') and readable levels (admin)."""
    found, groups = service.principal_access(session=session, admin=principal, principal_id=principal_id)
    return PrincipalAccessOut(
        id=found.id,
        name=found.name,
        role=found.role,
        groups=[PrincipalGroup(name=g.name, clearance=g.clearance) for g in groups],
        clearance=effective_clearance(g.clearance for g in groups),
        readable_classifications=list(service.readable_levels(groups)),
        reads_everything=found.role == "admin",
    )


@router.get("/documents/{document_id}/access", response_model=AccessExplanationOut)
def explain_access(
    document_id: str,
    session: SessionDep,
    principal: AdminCaller,
    principal_id: Annotated[str, Query(min_length=1, max_length=36, description="whose access to explain")],
) -> AccessExplanationOut:
    """Whether the principal may read the document and why not (admin only: it names groups and levels)."""
    found = service.explain_access(session=session, admin=principal, document_id=document_id, principal_id=principal_id)
    return AccessExplanationOut(
        document_id=document_id,
        principal_id=principal_id,
        readable=found.readable,
        reasons=found.reasons,
        document_groups=found.document_groups,
        principal_groups=found.principal_groups,
        shared_groups=found.shared_groups,
        classification=found.classification,
        clearance=found.clearance,
    )
