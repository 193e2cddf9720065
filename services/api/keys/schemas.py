"""Wire shapes of API key management."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["search", "chat", "ingest", "admin"]


class KeyCreate(BaseModel):
    """A new key for the principal `name` (created if new; its role and groups are set to these)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="the principal: a person's or an application's name")
    role: Literal["admin", "user", "app"] = "user"
    groups: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default=[], max_length=50)
    scopes: list[Scope] | None = Field(
        default=None, max_length=4, description="default: what the role allows (user and app: search, chat)"
    )
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="default: never expires")
    label: str = Field(default="", max_length=200, description="what the key is for, for whoever manages keys")


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="default: the old key's expiry")


class KeyOut(BaseModel):
    """A key as admins see it: never its secret, which is shown once, when it is issued."""

    prefix: str = Field(description="the key's public part (stw_<prefix>_...): how it is named here")
    principal_id: str
    principal_name: str
    role: str
    label: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None


class KeyIssued(KeyOut):
    key: str = Field(description="the secret: shown this once, stored only as a hash")


class KeyList(BaseModel):
    keys: list[KeyOut]
    total: int
    limit: int
    offset: int
