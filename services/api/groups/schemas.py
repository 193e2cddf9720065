"""Wire shapes of the permissions admin API: groups, membership, a principal's access, access explanations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.access.rules import Classification

# Letters, digits and . _ - : only: upload forms split groups on commas, and names show up in explanations.
GROUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=GROUP_NAME, description="letters, digits, '.', '_', '-', ':'; at most 100")
    clearance: Classification = "internal"
    description: str = Field(default="", max_length=2000)


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clearance: Classification | None = None
    description: str | None = Field(default=None, max_length=2000)


class GroupOut(BaseModel):
    name: str
    clearance: str
    description: str
    members: list[str]  # principal ids
    created_at: datetime


class GroupList(BaseModel):
    groups: list[GroupOut]


class MembershipOut(BaseModel):
    group: str
    principal_id: str
    member: bool


class PrincipalGroup(BaseModel):
    name: str
    clearance: str


class PrincipalAccessOut(BaseModel):
    id: str
    name: str
    role: str
    groups: list[PrincipalGroup]
    # The highest clearance of the principal's groups; null without groups (then nothing is readable).
    clearance: str | None
    readable_classifications: list[str]
    reads_everything: bool  # admins


class AccessExplanationOut(BaseModel):
    document_id: str
    principal_id: str
    readable: bool
    reasons: list[str]
    document_groups: list[str]
    principal_groups: list[str]
    shared_groups: list[str]
    classification: str
    clearance: str | None
