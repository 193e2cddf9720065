"""Groups, their clearances and members (admin); what a principal may read, and why a document is excluded."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.core import audit
from services.core.access.principals import Caller, memberships
from services.core.access.rules import Explanation, effective_clearance, explain, levels_up_to
from services.core.db.models import Document, Group, GroupMember, Principal
from services.core.errors import Conflict, DocumentNotFound, GroupNotFound, MembershipNotFound, PrincipalNotFound


def _group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise GroupNotFound(f"no group {name!r}")
    return group


def _principal(session: Session, principal_id: str) -> Principal:
    found = session.get(Principal, principal_id)
    if found is None:
        raise PrincipalNotFound(f"no principal {principal_id}")
    return found


def members_of(session: Session, group: Group) -> Sequence[str]:
    return session.scalars(
        select(GroupMember.principal_id).where(GroupMember.group_id == group.id).order_by(GroupMember.principal_id)
    ).all()


def create(*, session: Session, admin: Caller, name: str, clearance: str, description: str) -> Group:
    admin.require_role("admin")
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"group {name!r} already exists; PATCH it to change its clearance")
    group = Group(name=name, clearance=clearance, description=description)
    session.add(group)
    try:
        session.flush()
    except IntegrityError:  # created concurrently by another request
        session.rollback()
        raise Conflict(f"group {name!r} already exists") from None
    _record(session, admin, "group.create", f"created group {name!r} with clearance {clearance}", name)
    return group


def list(*, session: Session, admin: Caller) -> Sequence[tuple[Group, Sequence[str]]]:
    admin.require_role("admin")
    return [(g, members_of(session, g)) for g in session.scalars(select(Group).order_by(Group.name))]


def get(*, session: Session, name: str) -> tuple[Group, Sequence[str]]:
    group = _group(session, name)
    return group, members_of(session, group)


def update(*, session: Session, admin: Caller, name: str, clearance: str | None, description: str | None) -> Group:
    """A new clearance takes effect on the members' next request: scopes are computed per request."""
    admin.require_role("admin")
    group = _group(session, name)
    before = group.clearance
    if clearance is not None:
        group.clearance = clearance
    if description is not None:
        group.description = description
    _record(session, admin, "group.update", f"group {name!r}: clearance {before} -> {group.clearance}", name)
    return group


def add_member(*, session: Session, admin: Caller, name: str, principal_id: str) -> None:
    """Idempotent: adding an existing member changes nothing."""
    admin.require_role("admin")
    group, _ = _group(session, name), _principal(session, principal_id)
    if session.get(GroupMember, (group.id, principal_id)) is None:
        session.add(GroupMember(group_id=group.id, principal_id=principal_id))
        _record(session, admin, "group.member.add", f"added {principal_id} to {name!r}", name, principal_id)


def remove_member(*, session: Session, admin: Caller, name: str, principal_id: str) -> None:
    admin.require_role("admin")
    group, _ = _group(session, name), _principal(session, principal_id)
    member = session.get(GroupMember, (group.id, principal_id))
    if member is None:
        raise MembershipNotFound(f"principal {principal_id} is not a member of {name!r}")
    session.delete(member)
    _record(session, admin, "group.member.remove", f"removed {principal_id} from {name!r}", name, principal_id)


def principal_access(*, session: Session, admin: Caller, principal_id: str) -> tuple[Principal, Sequence[Group]]:
    admin.require_role("admin")
    return _principal(session, principal_id), memberships(session, principal_id)


def explain_access(*, session: Session, admin: Caller, document_id: str, principal_id: str) -> Explanation:
    """Admin only: the explanation names groups and levels, which a non-admin must never learn."""
    admin.require_role("admin")
    document = session.get(Document, document_id)
    if document is None:
        raise DocumentNotFound(f"no document {document_id}")
    principal = _principal(session, principal_id)
    groups = memberships(session, principal_id)
    return explain(
        document.groups,
        document.classification,
        [g.name for g in groups],
        effective_clearance(g.clearance for g in groups),
        principal.role,
    )


def readable_levels(groups: Sequence[Group]) -> tuple[str, ...]:
    return tuple(levels_up_to(effective_clearance(g.clearance for g in groups)))


def _record(
    session: Session, admin: Caller, action: str, reason: str, group: str, principal_id: str | None = None
) -> None:
    details: dict[str, object] = {"group": group}
    if principal_id is not None:
        details["member"] = principal_id
    audit.admin_action(session, admin.id, action, reason, details)
